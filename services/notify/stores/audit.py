"""The audit log: who read or changed which alert or silence, and when (never what anyone wrote).

Alerts can carry safeguarding concerns, so every read of one alert and every
change is recorded in ``audit_log``. The record holds only identifiers, the
action and the time, so the log itself holds no personal story to protect.
Writing it is part of the request: if it cannot be written the request fails
rather than go unrecorded.
"""

from __future__ import annotations

import uuid

from flask import current_app, g, request
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from qc import events

ACTIONS = (
    "alert.read",
    "alert.deliveries.read",
    "alert.acknowledge",
    "alert.resolve",
    "silence.create",
    "silence.end",
)


class AuditLog:
    """The ``audit_log`` collection."""

    def __init__(self, db: Database):
        self.collection = db["audit_log"]
        self._indexed = False

    def ensure_indexes(self) -> None:
        """Look-ups by alert and by person, newest first."""
        self.collection.create_index([("alert_id", ASCENDING), ("at", DESCENDING)])
        self.collection.create_index([("who", ASCENDING), ("at", DESCENDING)])
        self._indexed = True

    def add(self, who: str, role: str, action: str, *, via: str, alert_id=None, silence_id=None) -> None:
        """Record one action; ``via`` is ``api`` or ``page``."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        if not self._indexed:
            self.ensure_indexes()
        self.collection.insert_one(
            {
                "_id": str(uuid.uuid4()),
                "at": events.now(),
                "who": who,
                "role": role,
                "action": action,
                "alert_id": alert_id,
                "silence_id": silence_id,
                "via": via,
            }
        )

    def for_alert(self, alert_id: str) -> list[dict]:
        """Every record about one alert, oldest first."""
        return list(self.collection.find({"alert_id": alert_id}, sort=[("at", ASCENDING)]))


def record(action: str, *, alert_id: str | None = None, silence_id: str | None = None) -> None:
    """Record that the signed-in manager (``g.principal``) did ``action`` in this request."""
    principal = g.principal
    via = "api" if request.path.startswith("/api/") else "page"
    log: AuditLog = current_app.extensions["qc.audit"]
    log.add(principal.username, principal.role, action, via=via, alert_id=alert_id, silence_id=silence_id)
