"""The question sets' wording, so every page, alert and board says the question, not its id."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from qc.settings import ROOT


@functools.lru_cache(maxsize=4)
def texts(schemas_dir: Path = ROOT / "schemas") -> dict[str, str]:
    """question id -> its words, from every question set in ``schemas/question-sets`` (newest version wins)."""
    found: dict[str, tuple[int, str]] = {}
    for path in sorted(Path(schemas_dir, "question-sets").glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # checks refuses a broken set at its start; here it only costs the wording
        version = doc.get("version", 0) if isinstance(doc, dict) else 0
        for question in doc.get("questions", []) if isinstance(doc, dict) else []:
            qid, words = question.get("id"), question.get("text")
            if isinstance(qid, str) and isinstance(words, str) and version >= found.get(qid, (-1, ""))[0]:
                found[qid] = (version, words)
    return {qid: words for qid, (_, words) in found.items()}


def text(question_id: str | None, schemas_dir: Path = ROOT / "schemas") -> str:
    """The words of one question, or its id if no set knows it."""
    return texts(Path(schemas_dir)).get(question_id or "", question_id or "")
