"""Question sets made with people: each new version's life from draft to published, in ``question_versions``.

The involvement lead writes a draft (a copy of the current set to change), asks named checkers to review
it on their phones (each question: clear, not sure or not clear, and a comment), tries it at chosen
services (the pilot: their checkers' form uses it), and publishes it as the next version. From the pilot
on its questions never change: checks answered with it keep its version, as with every version. Who wrote,
reviewed and tried it is kept with it, by name only where the person agreed. Every step is in its history
(who, when). The versions in schemas/question-sets are the ones from before, published with the code.
"""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from qc import events

DRAFT, PILOT, PUBLISHED, STOPPED = "draft", "pilot", "published", "stopped"
CLEAR = {"yes": "Yes", "not_sure": "Not sure", "no": "No"}  # "Is this question clear?"


class VersionError(Exception):
    """A step that cannot be taken now (the draft has moved on): the words say why."""


class QuestionVersions:
    """The ``question_versions`` collection: one document per version made on the pages."""

    def __init__(self, db: Database):
        self.collection = db["question_versions"]

    def ensure_indexes(self) -> None:
        """Readers ask by status (the draft, the pilot, the published) and a checker's reviews to give."""
        self.collection.create_index([("status", ASCENDING)])
        self.collection.create_index([("reviewers", ASCENDING)])
        self.collection.create_index([("told", ASCENDING)])

    # --- reading -------------------------------------------------------------------------------------

    def draft(self) -> dict | None:
        """The version being written, reviewed or tried (at most one at a time)."""
        return self.collection.find_one({"status": {"$in": [DRAFT, PILOT]}})

    def usable(self) -> list[dict]:
        """Every version a form may show or a check may have answered: piloted, published or stopped after a
        pilot (its checks keep it)."""
        return list(self.collection.find({"piloted_at": {"$ne": None}}))

    def all(self) -> list[dict]:
        """Every version made on the pages, newest first."""
        return list(self.collection.find({}, sort=[("version", -1)]))

    def untold(self) -> list[dict]:
        """Versions whose last step (pilot, published, stopped) the broker has not taken yet (question_events.py)."""
        return list(self.collection.find({"told": False}))

    def mark_told(self, doc: dict) -> None:
        """That step is on ``qc.questions`` (not a later one made meanwhile)."""
        self.collection.update_one({"_id": doc["_id"], "status": doc["status"]}, {"$set": {"told": True}})

    def to_review(self, checker_id: str) -> dict | None:
        """The draft this checker was asked to review and has not reviewed yet."""
        found = self.collection.find_one({"reviewers": checker_id, "status": DRAFT})
        reviewed = found is not None and any(r["checker_id"] == checker_id for r in found["reviews"])
        return None if reviewed else found

    # --- the steps -------------------------------------------------------------------------------------

    def start(self, base: dict, next_version: int, by: str) -> dict:
        """A new draft: a copy of ``base`` (the current set) as version ``next_version``."""
        if self.draft() is not None:
            raise VersionError("There is already a draft. Finish it or stop it first.")
        now = events.now()
        doc = {
            "_id": f"{base['id']}:{next_version}",
            "id": base["id"],
            "version": next_version,
            "based_on": int(base["version"]),
            "status": DRAFT,
            **{k: base[k] for k in ("title", "language", "scale", "questions")},
            "written_with": "",
            "reviewers": [],
            "reviews": [],
            "pilot_site_ids": [],
            "piloted_at": None,
            "published_at": None,
            "created_at": now,
            "history": [{"at": now, "by": by, "what": f"started from version {base['version']}"}],
        }
        try:
            self.collection.insert_one(doc)
        except DuplicateKeyError:  # another lead pressed "Start a draft" at the same moment
            raise VersionError("There is already a draft. Finish it or stop it first.") from None
        return doc

    def save(self, draft: dict, questions: list[dict], written_with: str, by: str) -> None:
        """New words for the draft's questions; only while it is a draft."""
        self._step(draft, DRAFT, {"questions": questions, "written_with": written_with}, by, "changed the questions")

    def ask(self, draft: dict, checker_ids: list[str], by: str) -> None:
        """Ask these checkers to review the draft (added to any asked before)."""
        asked = sorted(set(draft["reviewers"]) | set(checker_ids))
        self._step(draft, DRAFT, {"reviewers": asked}, by, f"asked {len(checker_ids)} checkers to review it")

    def review(self, draft: dict, checker_id: str, answers: dict, name: str | None) -> None:
        """One checker's review: per question whether it is clear and a comment; ``name`` only if they agreed."""
        review = {"checker_id": checker_id, "answers": answers, "name": name, "at": events.now()}
        result = self.collection.update_one(
            {"_id": draft["_id"], "status": DRAFT, "reviewers": checker_id, "reviews.checker_id": {"$ne": checker_id}},
            {"$push": {"reviews": review}},
        )
        if result.matched_count == 0:
            raise VersionError("These questions are not waiting for your help any more.")

    def pilot(self, draft: dict, site_ids: list[str], by: str) -> dict:
        """Try the draft at these services: from now on its questions never change."""
        changes = {"status": PILOT, "pilot_site_ids": site_ids, "piloted_at": events.now(), "told": False}
        return self._step(draft, DRAFT, changes, by, f"tried it at {len(site_ids)} services")

    def publish(self, draft: dict, credits: dict, by: str) -> dict:
        """The piloted draft becomes the next version everyone answers, with who shaped it."""
        changes = {"status": PUBLISHED, "credits": credits, "published_at": events.now(), "told": False}
        return self._step(draft, PILOT, changes, by, "published it")

    def stop(self, draft: dict, by: str) -> dict:
        """Give the draft up; a piloted one is kept for the checks that answered it."""
        # Only a version others were told of (a pilot) is told it stopped.
        told = {"told": False} if draft["status"] == PILOT else {}
        return self._step(draft, draft["status"], {"status": STOPPED, **told}, by, "stopped it")

    def _step(self, draft: dict, expected: str, changes: dict, by: str, what: str) -> dict:
        """Apply one step if the draft is still where the page saw it (two leads at once: the second is told);
        the version as it is after it."""
        now = events.now()
        result = self.collection.update_one(
            {"_id": draft["_id"], "status": expected},
            {"$set": {**changes, "changed_at": now}, "$push": {"history": {"at": now, "by": by, "what": what}}},
        )
        if result.matched_count == 0:
            raise VersionError("Someone else changed this draft. Look at it again.")
        return {**draft, **changes, "changed_at": now}
