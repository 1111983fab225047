""" "You said, we did" to a checker's supporter: optional per site, only the manager's response.

When an alert is resolved and its site has chosen to tell supporters, each
checker behind the alert who has a supporter gets an e-mail delivery (sent
and retried by the worker like any other). What the checker wrote is never
in it, only what the managers did.

Who is never told (docs/security.md, "Who may learn of a worry"): the
supporter of a checker who raised a worry, since the supporter may be the
person it is about, and the supporter of a checker who did not share their
name for everything behind the alert, since the note itself says that this
checker's check led to it.
"""

from __future__ import annotations

from qc import events
from services.notify.delivery.records import record_email


def checkers_to_tell(alert: dict) -> list[str]:
    """The checkers whose supporters may hear how this alert was resolved (none for a worry)."""
    if alert.get("safeguarding"):
        return []
    named: dict[str, bool] = {}
    for voice in alert.get("voices", []):
        if voice.get("checker_id"):
            named[voice["checker_id"]] = named.get(voice["checker_id"], True) and bool(voice.get("named"))
    return sorted(c for c in alert.get("checker_ids", []) if named.get(c))


def plan_notes(db, alert: dict) -> int:
    """Record one pending e-mail per supporter to tell; returns how many were new."""
    site = db["notify_sites"].find_one({"_id": alert["site_id"]}) or {}
    told = checkers_to_tell(alert)
    if not site.get("tell_supporters") or not told:
        return 0
    checkers = db["contacts"].find({"_id": {"$in": told}, "active": True, "supporter_email": {"$nin": [None, ""]}})
    now, made = events.now(), 0
    for checker in checkers:
        made += record_email(
            db["deliveries"], alert["_id"], "response", checker["_id"], checker["supporter_email"], "pending", now
        )
    return made
