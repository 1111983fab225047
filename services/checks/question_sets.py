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

    def current(self) -> dict:
        """The newest version of the current set."""
        versions = [v for (i, v) in self._sets if i == self.CURRENT_ID]
        return self._sets[(self.CURRENT_ID, max(versions))]
