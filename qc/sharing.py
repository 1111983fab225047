"""Who answered a check, and what the checker agreed to share with their name: one vocabulary for every service.

Many checkers fear repercussions for speaking up, so every answer is
anonymous unless the checker chose otherwise. Intake fills these fields in on
every event; ``upcast`` (called by ``qc.events.decode`` for every event read
from the broker) fills them into older events that lack them, so no consumer
ever has to guess. ``answered_by_of`` and ``share_of`` are the one reading of a
stored value, where anything unknown is the safe default.
"""

from __future__ import annotations

ALONE, WITH_SUPPORTER, SUPPORTER_WROTE = "alone", "with_supporter", "supporter_wrote"
ANSWERED_BY = (ALONE, WITH_SUPPORTER, SUPPORTER_WROTE)
NAMED, ANONYMOUS = "named", "anonymous"
SHARE = (NAMED, ANONYMOUS)

DEFAULT_ANSWERED_BY = ALONE
DEFAULT_SHARE = ANONYMOUS  # the safe choice
SHARE_FIELDS = ("texts_share", "urgent_concern_share")


def answered_by_of(value) -> str:
    """Who held the pen, as stored; anything unknown or missing is "alone"."""
    return value if value in ANSWERED_BY else DEFAULT_ANSWERED_BY


def share_of(value) -> str:
    """What a checker agreed to share, as stored; anything but "named" is anonymous (the safe choice)."""
    return NAMED if value == NAMED else DEFAULT_SHARE


# Submission events whose data is a whole check; a rejection carries only the worry it travels with.
_WHOLE_CHECKS = ("org.qc.submission.received", "org.qc.submission.validated")


def upcast(event: dict) -> dict:
    """An event read from the broker with its sharing fields filled in: the one upcaster of older events."""
    if event["type"] in _WHOLE_CHECKS:
        return {**event, "data": with_defaults(event["data"])}
    if event["type"] == "org.qc.submission.rejected" and event["data"].get("urgent_concern"):
        data = dict(event["data"])
        data["answered_by"] = answered_by_of(data.get("answered_by"))
        data["urgent_concern_share"] = share_of(data.get("urgent_concern_share"))
        return {**event, "data": data}
    return event


def with_defaults(body: dict) -> dict:
    """A copy of a submission body with every sharing field filled in (missing ones get the safe default)."""
    out = dict(body)
    out["answered_by"] = body.get("answered_by") or DEFAULT_ANSWERED_BY
    for field in SHARE_FIELDS:
        out[field] = body.get(field) or DEFAULT_SHARE
    out["answers"] = [{**a, "share": a.get("share") or DEFAULT_SHARE} for a in body.get("answers", [])]
    return out


def without_defaults(body: dict) -> dict:
    """A copy with every sharing field left out where it holds the default.

    The content hash is taken over this form, so a check sent before the
    sharing fields existed (and retried after a deploy) hashes the same as the
    same check with the defaults written out: a retry, not a conflict.
    """
    out = with_defaults(body)
    if out["answered_by"] == DEFAULT_ANSWERED_BY:
        del out["answered_by"]
    for field in SHARE_FIELDS:
        if out[field] == DEFAULT_SHARE:
            del out[field]
    out["answers"] = [{k: v for k, v in a.items() if not (k == "share" and v == DEFAULT_SHARE)} for a in out["answers"]]
    return out
