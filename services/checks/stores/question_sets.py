"""Question sets: the versions published with the code (schemas/question-sets/*.json) and those made with
people on the pages since (question_versions.py), one list for every reader."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from services.checks.stores.question_versions import PILOT, PUBLISHED, QuestionVersions

REFRESH_SECONDS = 5.0  # how soon a version published or piloted on one process is used by every other
MISS_REFRESH_SECONDS = 1.0  # an unknown version asked for (a pilot started a moment ago) looks again at most this often


class QuestionSets:
    """Every known question set version; the newest published of the current id is 'current'.

    Versions made on the pages are read from the database at most every few seconds (they are few, and a
    published one never changes); a site trying a draft (a pilot) is given the draft instead.
    """

    CURRENT_ID = "everyday-life"

    def __init__(self, sets: dict[tuple[str, int], dict], versions: QuestionVersions | None = None):
        self._files = sets
        self._versions = versions
        self._made: dict[tuple[str, int], dict] = {}
        self._published: dict[tuple[str, int], dict] = {}
        self._pilots: dict[str, dict] = {}  # site id -> the version tried there
        self._read_at = -REFRESH_SECONDS
        self._lock = threading.Lock()

    @classmethod
    def load(cls, schemas_dir: Path, versions: QuestionVersions | None = None) -> QuestionSets:
        """Read every ``*.json`` under ``schemas/question-sets``; with ``versions``, those made on the pages too."""
        sets = {}
        for path in sorted((Path(schemas_dir) / "question-sets").glob("*.json")):
            data = json.loads(path.read_text())
            sets[(data["id"], int(data["version"]))] = data
        return cls(sets, versions)

    def _fresh(self, older_than: float = REFRESH_SECONDS) -> None:
        if self._versions is None or time.monotonic() - self._read_at < older_than:
            return
        with self._lock:
            if time.monotonic() - self._read_at < older_than:
                return
            made, published, pilots = {}, {}, {}
            for doc in self._versions.usable():
                key, shown = (doc["id"], int(doc["version"])), public(doc)
                made[key] = shown
                if doc["status"] == PUBLISHED:
                    published[key] = shown
                elif doc["status"] == PILOT:
                    pilots.update(dict.fromkeys(doc["pilot_site_ids"], shown))
            self._made, self._published, self._pilots = made, published, pilots
            self._read_at = time.monotonic()

    def refresh(self) -> None:
        """Read the versions made on the pages now: the process that piloted or published one uses it at once."""
        self._fresh(0.0)

    def get(self, set_id: str, version: int) -> dict | None:
        """One version of a set, or None if unknown."""
        key = (set_id, version)
        if key in self._files:
            return self._files[key]
        self._fresh()
        if key not in self._made:
            self._fresh(MISS_REFRESH_SECONDS)
        return self._made.get(key)

    def all(self) -> list[dict]:
        """Every known version of every set."""
        self._fresh()
        every = self._files | self._made
        return [every[key] for key in sorted(every)]

    def current(self, site_id: str | None = None) -> dict:
        """The newest published version of the current set; at a site trying a draft, the draft."""
        self._fresh()
        if site_id in self._pilots:
            return self._pilots[site_id]
        published = self._published | self._files
        versions = [v for (i, v) in published if i == self.CURRENT_ID]
        return published[(self.CURRENT_ID, max(versions))]

    def published(self, set_id: str) -> list[dict]:
        """Every published version of a set, newest first (those with the code, then those made on the pages)."""
        self._fresh()
        every = self._published | self._files
        return [every[key] for key in sorted(every, reverse=True) if key[0] == set_id]

    def versions_of(self, set_id: str) -> list[int]:
        """Every version number of a set, including drafts given up (a new draft takes the next)."""
        made = [d["version"] for d in self._versions.all() if d["id"] == set_id] if self._versions else []
        return [v for (i, v) in self._files if i == set_id] + made


def public(doc: dict) -> dict:
    """A version made on the pages as every reader sees it: the questions, and who shaped it once published
    (names only where people agreed). Never who was asked to review it, nor what anyone said."""
    shown = {k: doc[k] for k in ("id", "version", "title", "language", "scale", "questions")}
    return shown | ({"credits": doc["credits"]} if doc.get("credits") else {})


# A question of kind "confidence" is not good / OK / not good: its own answer_words say it. In v2 ("How
# sure are you…?") thumbs showed it; v3 ("Do you think things will get better here?", Yes / Maybe / No)
# names its own answer_symbols: the faces, which mean yes / maybe / no on "Is it better now?" too.
CONFIDENCE_SYMBOLS = {"3": "thumbs-up", "2": "thumb-sideways", "1": "thumbs-down"}


def score_key(score: int | None) -> str:
    """The form's value for a score: "3", "2", "1", or "skip" for "I don't want to answer"."""
    return "skip" if score is None else str(score)


def answer_options(question: dict, scale: list[dict]) -> list[dict]:
    """The answers one question offers: its own ``answer_words`` where given, else the set's scale words."""
    words = question.get("answer_words") or {}
    options = []
    for option in scale:
        key = score_key(option["score"])
        symbol = option.get("symbol")
        if question.get("kind") == "confidence":
            symbol = CONFIDENCE_SYMBOLS.get(key, symbol)
        symbol = (question.get("answer_symbols") or {}).get(key, symbol)
        options.append(
            {"key": key, "score": option["score"], "label": words.get(key, option["label"]), "symbol": symbol}
        )
    return options


def answer_words(question: dict, scale: list[dict], score: int | None) -> str:
    """The words for one answer to one question, as the checker saw them."""
    key = score_key(score)
    return next((o["label"] for o in answer_options(question, scale) if o["key"] == key), "Not answered")
