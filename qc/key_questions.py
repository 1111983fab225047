"""The monthly key questions (deploy/team-feedback.yaml): the questions staff supervision hears answers to.

Shared: aggregate's staff team feedback counts the answers (services/aggregate/web/team_feedback.py), and
checks asks them of anyone supported at a site through its own link (services/checks/web/voice_pages.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from qc.settings import ROOT
from qc.yamlfile import YamlFileError, load_versioned_yaml

PATH = ROOT / "deploy" / "team-feedback.yaml"


class TeamFeedbackError(YamlFileError):
    """The team feedback file is wrong; the message says where."""


@dataclasses.dataclass(frozen=True)
class KeyQuestion:
    id: str
    question: str  # as the checkers were asked it
    team_wording: str  # as the team leader reads it out


def load_questions(path: Path = PATH) -> list[KeyQuestion]:
    """Read and check deploy/team-feedback.yaml."""
    seen: set[str] = set()

    def question(where: str, raw) -> KeyQuestion:
        fields = raw if isinstance(raw, dict) else {}
        values = [fields.get(k) for k in ("id", "question", "team_wording")]
        if not all(isinstance(v, str) and v.strip() for v in values) or set(fields) - {
            "id",
            "question",
            "team_wording",
        }:
            raise TeamFeedbackError(f"{where}: give exactly 'id', 'question' and 'team_wording'")
        if values[0] in seen:
            raise TeamFeedbackError(f"{where}: '{values[0]}' is listed twice")
        seen.add(values[0])
        return KeyQuestion(*values)

    out = load_versioned_yaml(path, "questions", question, error=TeamFeedbackError)
    if not out:
        raise TeamFeedbackError(f"{path}: list at least one question")
    return out
