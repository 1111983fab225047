"""Alert rules: loaded from deploy/alert-rules.yaml, checked at start, applied as pure functions."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from pathlib import Path

import yaml

from qc import periods

SEVERITIES = ("critical", "high", "warning", "info")
RECIPIENT_ROLES = ("site_manager", "regional_manager", "safeguarding_lead")
KINDS = ("urgent_concern", "safety_not_good")
_ALERT_NS = uuid.UUID("6f1c1d2e-6a0b-4b7e-9a57-0c6a1e1f0a11")


class RulesError(ValueError):
    """The rules file is wrong; the message names the rule and the field."""


@dataclasses.dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    severity: str
    notify: tuple[str, ...]
    description: str = ""


@dataclasses.dataclass(frozen=True)
class Candidate:
    """An alert a submission calls for; the store decides whether it is new."""

    rule: Rule
    key: str
    alert_id: str
    site_id: str
    region_id: str
    period: str
    submission_id: str
    question_ids: tuple[str, ...]
    summary: str


def load_rules(path: Path) -> list[Rule]:
    """Read and check the rules file."""
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise RulesError(f"{path}: cannot read rules: {e}") from e
    if not isinstance(doc, dict) or doc.get("version") != 1 or not isinstance(doc.get("rules"), list):
        raise RulesError(f"{path}: expected 'version: 1' and a list under 'rules'")
    rules, seen = [], set()
    for i, raw in enumerate(doc["rules"]):
        where = f"{path}: rules[{i}]"
        if not isinstance(raw, dict):
            raise RulesError(f"{where}: must be a mapping")
        unknown = set(raw) - {"id", "kind", "severity", "notify", "description"}
        if unknown:
            raise RulesError(f"{where}: unknown field(s) {sorted(unknown)}")
        rule_id = raw.get("id")
        if not isinstance(rule_id, str) or not rule_id or rule_id in seen:
            raise RulesError(f"{where}: 'id' must be a unique, non-empty name")
        seen.add(rule_id)
        if raw.get("kind") not in KINDS:
            raise RulesError(f"{where} ({rule_id}): 'kind' must be one of {list(KINDS)}")
        if raw.get("severity") not in SEVERITIES:
            raise RulesError(f"{where} ({rule_id}): 'severity' must be one of {list(SEVERITIES)}")
        notify = raw.get("notify")
        if not isinstance(notify, list) or not notify or any(r not in RECIPIENT_ROLES for r in notify):
            raise RulesError(f"{where} ({rule_id}): 'notify' must list some of {list(RECIPIENT_ROLES)}")
        rules.append(Rule(rule_id, raw["kind"], raw["severity"], tuple(notify), raw.get("description", "")))
    return rules


def evaluate(rules: list[Rule], validated: dict) -> list[Candidate]:
    """The alerts one validated submission calls for."""
    month = periods.periods_of(dt.date.fromisoformat(validated["visited_on"]))["month"]
    out = []
    for rule in rules:
        if rule.kind == "urgent_concern" and (validated.get("urgent_concern") or "").strip():
            # Never grouped: every concern is its own alert.
            key = f"{rule.id}:{validated['site_id']}:{validated['submission_id']}"
            out.append(_candidate(rule, key, validated, month, (), "A quality checker raised an urgent concern."))
        elif rule.kind == "safety_not_good":
            questions = tuple(a["question_id"] for a in validated["answers"] if a["safety"] and a["score"] == 1)
            if questions:
                key = f"{rule.id}:{validated['site_id']}:{month}"
                summary = f"A quality checker answered 'not good' to {len(questions)} safety question(s)."
                out.append(_candidate(rule, key, validated, month, questions, summary))
    return out


def _candidate(rule, key, validated, period, question_ids, summary) -> Candidate:
    return Candidate(
        rule=rule,
        key=key,
        # Deterministic: a replayed submission maps to the same alert id.
        alert_id=str(uuid.uuid5(_ALERT_NS, f"{key}|{validated['submission_id']}")),
        site_id=validated["site_id"],
        region_id=validated["region_id"],
        period=period,
        submission_id=validated["submission_id"],
        question_ids=question_ids,
        summary=summary,
    )
