"""The validator's business rules: pure functions, no I/O.

Messages are written for the checker (plain words, what to do next); codes
are for software.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json

from qc import events, sharing


@dataclasses.dataclass(frozen=True)
class Decision:
    """``validated`` with the enriched submission, or ``rejected`` with reasons."""

    status: str
    reasons: list[dict]
    region_id: str | None
    validated: dict | None = None


def reason(code: str, field: str | None, message: str) -> dict:
    """One reason for a rejection."""
    return {"code": code, "field": field, "message": message}


# Reasons a checker can put right on the form themselves, and the screen to open first for each
# (send_again.py); the others (their link, their service) need their supporter.
FIXABLE_BY_CHECKER = {
    "visit_in_future": "when",
    "visit_too_old": "when",
    "question_set_unknown": "check",
    "question_unknown": "check",
}


def can_send_again(record: dict) -> bool:
    """A check not counted only for reasons the checker can put right, and not sent again already."""
    codes = {r.get("code") for r in record.get("reasons", [])}
    fixable = bool(codes) and codes <= set(FIXABLE_BY_CHECKER)
    return record.get("status") == "rejected" and not record.get("sent_again_as") and fixable


def content_hash(body: dict) -> str:
    """Hash of what was said and what may be shared (not of ids or times), to spot the same check sent twice."""
    # Missing sharing fields mean the defaults, and defaults are left out of the
    # hash: bodies from before the fields existed keep the hash they had.
    body = sharing.without_defaults(body)
    said = {
        k: body[k]
        for k in ("site_id", "question_set", "visited_on", "answers", "working", "not_working", "urgent_concern")
    }
    said.update({k: body[k] for k in ("answered_by", *sharing.SHARE_FIELDS, "kind") if k in body})
    return hashlib.sha256(json.dumps(said, sort_keys=True, default=str).encode()).hexdigest()


def decide(
    received: dict,
    *,
    site: dict | None,
    checker: dict | None,
    question_set: dict | None,
    duplicate_of: str | None,
    today: dt.date,
    window_days: int,
) -> Decision:
    """Apply every rule and collect every failure, so the checker can fix all at once."""
    reasons = []
    region_id = site.get("region_id") if site else None
    if site is None:
        reasons.append(
            reason("site_unknown", "site_id", "We do not know this service. Ask your supporter to check your link.")
        )
    elif not site.get("active", True):
        reasons.append(reason("site_inactive", "site_id", "This service is no longer being checked."))
    if received.get("kind") == events.VOICE:
        pass  # anyone supported at the site, through its own link: nobody to look up
    elif checker is None or not checker.get("active", True) or checker.get("role") != "checker":
        reasons.append(
            reason(
                "checker_unknown",
                None,
                "We could not find you as a quality checker. Ask your supporter for a new link.",
            )
        )
    elif checker.get("site_id") != received["site_id"]:
        reasons.append(
            reason(
                "checker_not_at_site",
                "site_id",
                "You are not a checker for this service. Ask your supporter to check your link.",
            )
        )

    questions = {}
    if question_set is None:
        ref = received["question_set"]
        reasons.append(
            reason(
                "question_set_unknown",
                "question_set",
                f"We do not know question set {ref['id']} version {ref['version']}. "
                "You can change your check and send it again.",
            )
        )
    else:
        questions = {q["id"]: q for q in question_set["questions"]}
        for i, answer in enumerate(received["answers"]):
            if answer["question_id"] not in questions:
                reasons.append(
                    reason(
                        "question_unknown",
                        f"answers.{i}.question_id",
                        "One answer is for a question that is not on this form. "
                        "You can change your check and send it again.",
                    )
                )

    visited = dt.date.fromisoformat(received["visited_on"])
    if visited > today:
        reasons.append(
            reason(
                "visit_in_future", "visited_on", "The visit date is in the future. Please choose the day you visited."
            )
        )
    elif (today - visited).days > window_days:
        reasons.append(
            reason(
                "visit_too_old",
                "visited_on",
                f"The visit was more than {window_days} days ago. Please send checks within {window_days} days.",
            )
        )

    if duplicate_of:
        reasons.append(
            reason(
                "duplicate",
                None,
                "You have already sent this check. It has been received, so you do not need to send it again.",
            )
        )

    if reasons:
        return Decision("rejected", reasons, region_id)
    validated = sharing.with_defaults(received)  # events from before the sharing fields mean the defaults
    validated["region_id"] = region_id
    validated["answers"] = [
        {**a, "safety": bool(questions[a["question_id"]].get("safety", False))} for a in validated["answers"]
    ]
    return Decision("validated", [], region_id, validated)
