"""What the form keeps per checker between visits: how they like it, and unsent drafts.

``profiles`` holds the presentation profile (one per checker); ``drafts``
holds the answers of a check being filled in without JavaScript, keyed by the
draft id, which is also the check's ``submission_id``.
"""

from __future__ import annotations

import dataclasses
import uuid

from pymongo import DESCENDING
from pymongo.database import Database

from qc import events, sharing
from qc.mongo import update_and_read

PICTURES = ("symbols", "big", "words")
# Stored by earlier versions, which offered "photos" but had none and showed big symbols instead.
_PICTURES_RENAMED = {"photos": "big"}
TEXT_SIZES = ("normal", "large", "very-large")
PER_SCREEN = ("one", "all")


@dataclasses.dataclass(frozen=True)
class Profile:
    """How a checker likes the form shown: symbols, big symbols or words only.

    ``answered_by`` is who usually answers, chosen already on "Who is answering?"
    (None: ask each time). ``share_name`` is whether managers may see the
    checker's name with what they say: asked once here, changeable in a check.
    """

    pictures: str = "symbols"
    read_aloud: bool = True
    text_size: str = "normal"
    per_screen: str = "one"
    answered_by: str | None = None
    share_name: str = sharing.DEFAULT_SHARE

    @classmethod
    def from_form(cls, form) -> tuple[Profile, dict[str, str]]:
        """A profile from the "How I like it" form, and a plain-words error for each bad field."""
        errors = {}
        values = {}
        for name, allowed, message in (
            ("pictures", PICTURES, "Choose symbols, big symbols or words only."),
            ("text_size", TEXT_SIZES, "Choose a text size."),
            ("per_screen", PER_SCREEN, "Choose one question or all questions."),
        ):
            value = form.get(name)
            if value not in allowed:
                errors[name] = message
            else:
                values[name] = value
        read_aloud = form.get("read_aloud")
        if read_aloud not in ("on", "off"):
            errors["read_aloud"] = "Choose yes or no for the read aloud button."
        else:
            values["read_aloud"] = read_aloud == "on"
        # Optional: a form without it (an older page) keeps "ask each time".
        answered_by = form.get("answered_by") or "ask"
        if answered_by not in ("ask", *sharing.ANSWERED_BY):
            errors["answered_by"] = "Choose who usually answers, or “ask me each time”."
        elif answered_by != "ask":
            values["answered_by"] = answered_by
        share_name = form.get("share_name") or sharing.DEFAULT_SHARE  # optional too: private unless chosen
        if share_name not in sharing.SHARE:
            errors["share_name"] = "Choose whether managers can see your name."
        else:
            values["share_name"] = share_name
        return cls(**values), errors

    @classmethod
    def from_doc(cls, doc: dict | None) -> Profile:
        """A stored profile; unknown or missing values fall back to the defaults."""
        doc = doc or {}
        default = cls()
        pictures = _PICTURES_RENAMED.get(doc.get("pictures"), doc.get("pictures"))
        return cls(
            pictures=pictures if pictures in PICTURES else default.pictures,
            read_aloud=bool(doc.get("read_aloud", default.read_aloud)),
            text_size=doc.get("text_size") if doc.get("text_size") in TEXT_SIZES else default.text_size,
            per_screen=doc.get("per_screen") if doc.get("per_screen") in PER_SCREEN else default.per_screen,
            answered_by=doc.get("answered_by") if doc.get("answered_by") in sharing.ANSWERED_BY else None,
            share_name=doc.get("share_name") if doc.get("share_name") in sharing.SHARE else default.share_name,
        )


class Profiles:
    """The ``profiles`` collection, keyed by checker id."""

    def __init__(self, db: Database):
        self.collection = db["profiles"]

    def get(self, checker_id: str) -> Profile:
        """The checker's profile (defaults when they have not set one)."""
        return Profile.from_doc(self.collection.find_one({"_id": checker_id}))

    def save(self, checker_id: str, profile: Profile) -> None:
        """Replace the checker's profile."""
        doc = {"_id": checker_id, **dataclasses.asdict(profile), "updated_at": events.now()}
        self.collection.replace_one({"_id": checker_id}, doc, upsert=True)


class Drafts:
    """The ``drafts`` collection: checks being filled in on the server (the no-JavaScript path)."""

    def __init__(self, db: Database):
        self.collection = db["drafts"]

    def ensure_indexes(self) -> None:
        """A checker's newest open draft is found by this index."""
        self.collection.create_index([("checker_id", DESCENDING), ("updated_at", DESCENDING)])

    def start(self, checker: dict, question_set: dict, share_name: str = sharing.DEFAULT_SHARE) -> dict:
        """A new, empty draft; its id is the check's submission_id, made once here.

        ``share_name`` (from How I like it) is whether managers see the checker's
        name with their answers and what they wrote; the check can change it.
        """
        now = events.now()
        doc = {
            "_id": str(uuid.uuid4()),
            "checker_id": checker["checker_id"],
            "site_id": checker["site_id"],
            "question_set": {"id": question_set["id"], "version": int(question_set["version"])},
            "answers": {},
            "working": [],
            "not_working": [],
            "urgent_concern": "",
            # Who answered and what may be shared: chosen on the screens; the safe defaults until then.
            "answered_by": None,
            "visited_on": None,
            "name_share": sharing.share_of(share_name),
            "urgent_concern_share": "anonymous",  # a worry asks on its own screen
            "created_at": now,
            "updated_at": now,
            "sent_at": None,
        }
        self.collection.insert_one(doc)
        return doc

    def get(self, checker_id: str, draft_id: str) -> dict | None:
        """One of this checker's drafts, or None (someone else's draft is None too)."""
        return self.collection.find_one({"_id": draft_id, "checker_id": checker_id})

    def open_draft(self, checker_id: str) -> dict | None:
        """The checker's newest draft that has not been sent."""
        return self.collection.find_one({"checker_id": checker_id, "sent_at": None}, sort=[("updated_at", DESCENDING)])

    def update(self, checker_id: str, draft_id: str, changes: dict) -> dict | None:
        """Set some fields of an unsent draft; None when it is gone or already sent."""
        return update_and_read(
            self.collection,
            {"_id": draft_id, "checker_id": checker_id, "sent_at": None},
            {"$set": {**changes, "updated_at": events.now()}},
        )

    def mark_sent(self, checker_id: str, draft_id: str) -> None:
        """The check is with the broker: the draft can no longer change."""
        self.collection.update_one(
            {"_id": draft_id, "checker_id": checker_id, "sent_at": None}, {"$set": {"sent_at": events.now()}}
        )


def steps(question_set: dict, profile: Profile) -> list[str]:
    """The screens of a check, in order: who is answering, when, the questions (one each, or all on one), the rest."""
    if profile.per_screen == "all":
        questions = ["questions"]
    else:
        questions = [f"q-{q['id']}" for q in question_set["questions"]]
    return ["who", "when", *questions, "working", "not-working", "check"]


def next_step(all_steps: list[str], current: str) -> str:
    """The screen after ``current``; a question screen from another layout goes on to "working"."""
    if current in all_steps:
        return all_steps[min(all_steps.index(current) + 1, len(all_steps) - 1)]
    return "working"


def previous_step(all_steps: list[str], current: str) -> str | None:
    """The screen before ``current``, or None on the first one."""
    if current in all_steps and all_steps.index(current) > 0:
        return all_steps[all_steps.index(current) - 1]
    return None
