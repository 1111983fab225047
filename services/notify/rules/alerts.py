"""Alert rules: loaded from deploy/alert-rules.yaml, checked at start, applied as pure functions."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from pathlib import Path

from qc import events, periods, schedules
from qc.yamlfile import YamlFileError, load_versioned_yaml
from services.notify.rules import consent

SEVERITIES = ("critical", "high", "warning", "info")
IMMEDIATE = ("critical", "high")  # sent at once; the others go into the daily digest
SAFETY_KINDS = ("urgent_concern", "safety_not_good")
RECIPIENT_ROLES = ("site_manager", "regional_manager", "safeguarding_lead")
# kind -> (what it reads, {param: type}); every param is required.
KINDS = {
    "urgent_concern": ("validated", {}),
    "safety_not_good": ("validated", {}),
    "low_score": ("rollup", {"below": float, "min_checks": int, "period_kind": str}),
    "score_drop": ("rollup", {"drop": float, "min_checks": int, "period_kind": str}),
    "repeated_rejections": ("rejected", {"count": int, "days": int}),
    "overdue": ("schedule", {"days_late": int}),
}
_FIELDS = {"id", "kind", "severity", "notify", "description", "params", "escalate_after_minutes", "escalate_to"}
_ALERT_NS = uuid.UUID("6f1c1d2e-6a0b-4b7e-9a57-0c6a1e1f0a11")


class RulesError(YamlFileError):
    """The rules file is wrong; the message names the rule and the field."""


@dataclasses.dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    severity: str
    notify: tuple[str, ...]
    description: str = ""
    params: tuple[tuple[str, object], ...] = ()
    escalate_after_minutes: int | None = None
    escalate_to: tuple[str, ...] = ()

    def param(self, name: str):
        """One of the rule's parameters."""
        return dict(self.params)[name]

    @property
    def safeguarding(self) -> bool:
        """Safeguarding alerts are never grouped, delayed, silenced or inhibited."""
        return self.kind == "urgent_concern"

    @property
    def safety(self) -> bool:
        """About someone's safety: only a regional manager or above may silence it (never a worry)."""
        return self.kind in SAFETY_KINDS

    @property
    def immediate(self) -> bool:
        """Sent at once rather than in the daily digest."""
        return self.safeguarding or self.severity in IMMEDIATE


@dataclasses.dataclass(frozen=True)
class Candidate:
    """An alert an event calls for; the store decides whether it is new."""

    rule: Rule
    key: str
    alert_id: str
    site_id: str
    region_id: str
    period: str
    submission_id: str | None
    question_ids: tuple[str, ...]
    summary: str
    checker_id: str | None = None
    # Whose answers are behind it and what each agreed to share (see consent.py); empty for other alerts.
    voices: tuple[dict, ...] = ()


def load_rules(path: Path) -> list[Rule]:
    """Read and check the rules file."""
    seen: set[str] = set()

    def rule(where: str, raw) -> Rule:
        made = _rule(where, raw, seen)
        seen.add(made.id)
        return made

    return load_versioned_yaml(path, "rules", rule, error=RulesError)


def _rule(where: str, raw, seen: set) -> Rule:
    if not isinstance(raw, dict):
        raise RulesError(f"{where}: must be a mapping")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise RulesError(f"{where}: unknown field(s) {sorted(unknown)}")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id or rule_id in seen:
        raise RulesError(f"{where}: 'id' must be a unique, non-empty name")
    where = f"{where} ({rule_id})"
    kind = raw.get("kind")
    if kind not in KINDS:
        raise RulesError(f"{where}: 'kind' must be one of {list(KINDS)}")
    if raw.get("severity") not in SEVERITIES:
        raise RulesError(f"{where}: 'severity' must be one of {list(SEVERITIES)}")
    if kind == "urgent_concern" and raw["severity"] != "critical":
        raise RulesError(f"{where}: an urgent concern is a safeguarding matter; its severity must be 'critical'")
    notify, escalate_to = raw.get("notify"), raw.get("escalate_to", [])
    for name, roles, required in (("notify", notify, True), ("escalate_to", escalate_to, False)):
        if not isinstance(roles, list) or (required and not roles) or any(r not in RECIPIENT_ROLES for r in roles):
            raise RulesError(f"{where}: '{name}' must list some of {list(RECIPIENT_ROLES)}")
    escalate_after = raw.get("escalate_after_minutes")
    if escalate_after is not None and (not isinstance(escalate_after, int) or escalate_after < 1 or not escalate_to):
        raise RulesError(f"{where}: 'escalate_after_minutes' must be a whole number of minutes, with 'escalate_to'")
    return Rule(
        rule_id,
        kind,
        raw["severity"],
        tuple(notify),
        raw.get("description", ""),
        _params(where, kind, raw.get("params") or {}),
        escalate_after,
        tuple(escalate_to),
    )


def _params(where: str, kind: str, given: dict) -> tuple:
    wanted = KINDS[kind][1]
    if not isinstance(given, dict) or set(given) != set(wanted):
        raise RulesError(f"{where}: 'params' must be exactly {sorted(wanted) or 'empty'}")
    out = []
    for name, kind_type in wanted.items():
        value = given[name]
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind_type is float else kind_type):
            raise RulesError(f"{where}: params.{name} must be a {kind_type.__name__}")
        if name == "period_kind" and value not in periods.KINDS:
            raise RulesError(f"{where}: params.period_kind must be one of {list(periods.KINDS)}")
        out.append((name, value))
    return tuple(out)


def rules_for(rules: list[Rule], source: str) -> list[Rule]:
    """The rules that read one kind of input (validated, rollup, rejected, schedule)."""
    return [r for r in rules if KINDS[r.kind][0] == source]


def evaluate(rules: list[Rule], validated: dict) -> list[Candidate]:
    """The alerts one validated submission calls for."""
    month = periods.periods_of(dt.date.fromisoformat(validated["visited_on"]))["month"]
    out = []
    for rule in rules_for(rules, "validated"):
        if rule.kind == "urgent_concern" and (validated.get("urgent_concern") or "").strip():
            out.append(_worry(rule, validated, month))
        elif rule.kind == "safety_not_good":
            answers = [a for a in validated["answers"] if a["safety"] and a["score"] == 1]
            if answers:
                questions = tuple(a["question_id"] for a in answers)
                key = f"{rule.id}:{validated['site_id']}:{month}"
                summary = f"A quality checker answered 'not good' to {len(questions)} safety question(s)."
                voices = tuple(
                    consent.voice(validated, a["question_id"], a.get("share"), a.get("comment", "")) for a in answers
                )
                out.append(_candidate(rule, key, validated, month, questions, summary, voices))
    guarded = iter(consent.guard([v for c in out for v in c.voices]))
    return [dataclasses.replace(c, voices=tuple(next(guarded) for _ in c.voices)) for c in out]


def evaluate_rejected_worry(rules: list[Rule], rejected: dict) -> list[Candidate]:
    """The alert for a worry inside a check the validator turned back: a worry is never lost with its check."""
    if not (rejected.get("urgent_concern") or "").strip():
        return []
    month = rejected["received_at"][:7]
    return [_worry(rule, rejected, month) for rule in rules_for(rules, "validated") if rule.kind == "urgent_concern"]


def _worry(rule: Rule, submission: dict, month: str) -> Candidate:
    # Never grouped: every concern is its own alert.
    key = f"{rule.id}:{submission['site_id']}:{submission['submission_id']}"
    by_link = submission.get("kind") == events.VOICE  # a site's own link: anyone supported there
    summary = f"{'Someone supported here' if by_link else 'A quality checker'} raised an urgent concern."
    voices = (consent.voice(submission, None, submission.get("urgent_concern_share")),)
    return _candidate(rule, key, submission, month, (), summary, voices)


def evaluate_rollup(rules: list[Rule], rollup: dict, previous_score: float | None) -> list[Candidate]:
    """Alerts a site's roll-up calls for: a low score, or a drop against the previous period."""
    if rollup["scope"] != "site" or rollup["score"] is None:
        return []
    out = []
    for rule in rules_for(rules, "rollup"):
        if rollup["period_kind"] != rule.param("period_kind") or rollup["checks"] < rule.param("min_checks"):
            continue
        key = f"{rule.id}:{rollup['site_id']}:{rollup['period']}"
        if rule.kind == "low_score" and rollup["score"] < rule.param("below"):
            summary = f"The score for {rollup['period']} is {rollup['score']:.2f}, below {rule.param('below')}."
        elif (
            rule.kind == "score_drop"
            and previous_score is not None
            and previous_score - rollup["score"] >= rule.param("drop")
        ):
            summary = f"The score fell from {previous_score:.2f} to {rollup['score']:.2f} in {rollup['period']}."
        else:
            continue
        out.append(
            Candidate(rule, key, _id(key), rollup["site_id"], rollup["region_id"], rollup["period"], None, (), summary)
        )
    return out


def evaluate_rejections(rules: list[Rule], rejected: dict, count_in_window) -> list[Candidate]:
    """An alert when a checker's submissions keep being rejected, so someone helps them.

    ``count_in_window(days)`` says how many of this checker's submissions were rejected in the last ``days``.
    """
    out = []
    month = rejected["rejected_at"][:7]
    for rule in rules_for(rules, "rejected"):
        if rejected.get("region_id") is None or count_in_window(rule.param("days")) < rule.param("count"):
            continue
        key = f"{rule.id}:{rejected['site_id']}:{rejected['checker_id']}:{month}"
        summary = f"A quality checker's checks were turned back {rule.param('count')} or more times; please help them."
        out.append(
            Candidate(
                rule,
                key,
                _id(key),
                rejected["site_id"],
                rejected["region_id"],
                month,
                rejected["submission_id"],
                (),
                summary,
                checker_id=rejected["checker_id"],
            )
        )
    return out


def evaluate_overdue(rule: Rule, site: dict, due: schedules.Due, today: dt.date) -> Candidate | None:
    """An alert when a site's check is the rule's number of days past its due day (its own interval)."""
    late = due.overdue_days(today)
    if late < rule.param("days_late"):
        return None
    key = f"{rule.id}:{site['_id']}:{due.since.isoformat()}"
    last = "it has never been checked" if due.never_checked else f"the last was {(today - due.since).days} days ago"
    summary = (
        f"No quality check {late} days after it was due (it should be checked {schedules.words(due.interval)}; {last})."
    )
    return Candidate(
        rule, key, _id(key), site["_id"], site["region_id"], periods.current("month", today), None, (), summary
    )


def _id(key: str, discriminator: str = "") -> str:
    return str(uuid.uuid5(_ALERT_NS, f"{key}|{discriminator}"))


def _candidate(rule, key, validated, period, question_ids, summary, voices=()) -> Candidate:
    return Candidate(
        rule=rule,
        key=key,
        # Deterministic: a replayed submission maps to the same alert id.
        alert_id=_id(key, validated["submission_id"]),
        site_id=validated["site_id"],
        region_id=validated["region_id"],
        period=period,
        submission_id=validated["submission_id"],
        question_ids=question_ids,
        summary=summary,
        checker_id=validated.get("checker_id"),
        voices=voices,
    )
