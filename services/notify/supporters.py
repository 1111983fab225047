""" "You said, we did" to a checker's supporter: optional per site, only the manager's response.

When an alert is resolved and its site has chosen to tell supporters, each
checker behind the alert who has a supporter gets an e-mail delivery (sent
and retried by the worker like any other). What the checker wrote is never
in it, only what the managers did.
"""

from __future__ import annotations

from qc import events
from services.notify.delivery import record_email


def plan_notes(db, alert: dict) -> int:
    """Record one pending e-mail per supporter to tell; returns how many were new."""
    site = db["notify_sites"].find_one({"_id": alert["site_id"]}) or {}
    if not site.get("tell_supporters") or not alert.get("checker_ids"):
        return 0
    checkers = db["contacts"].find(
        {"_id": {"$in": alert["checker_ids"]}, "active": True, "supporter_email": {"$nin": [None, ""]}}
    )
    now, made = events.now(), 0
    for checker in checkers:
        made += record_email(
            db["deliveries"], alert["_id"], "response", checker["_id"], checker["supporter_email"], "pending", now
        )
    return made
