"""Question sets: versioned JSON files in schemas/question-sets/, changed without code."""

from __future__ import annotations

import json
from pathlib import Path


class QuestionSets:
    """Every known question set version; the newest of the current id is 'current'."""

    CURRENT_ID = "everyday-life"

    def __init__(self, sets: dict[tuple[str, int], dict]):
        self._sets = sets

    @classmethod
    def load(cls, schemas_dir: Path) -> QuestionSets:
        """Read every ``*.json`` under ``schemas/question-sets``."""
        sets = {}
        for path in sorted((Path(schemas_dir) / "question-sets").glob("*.json")):
            data = json.loads(path.read_text())
            sets[(data["id"], int(data["version"]))] = data
        return cls(sets)

    def get(self, set_id: str, version: int) -> dict | None:
        """One version of a set, or None if unknown."""
        return self._sets.get((set_id, version))

    def all(self) -> list[dict]:
        """Every known version of every set."""
        return [self._sets[key] for key in sorted(self._sets)]

    def current(self) -> dict:
        """The newest version of the current set."""
        versions = [v for (i, v) in self._sets if i == self.CURRENT_ID]
        return self._sets[(self.CURRENT_ID, max(versions))]


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
