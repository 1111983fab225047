"""Silences: a manager mutes matching alerts until a set time, with a reason; never safeguarding ones.

A silenced alert is still raised, stored and listed; only its e-mails are
held back (recorded with status ``silenced``). The owner is reminded before
the silence ends.

Safety alerts ("not good" to a safety question) are held back only by a
silence that a regional manager or above made (``covers_safety``): a site
manager must not be able to quieten what is said about their own site. Every
silence carries the region it applies in, so the regional manager, whose
deliveries it holds back too, sees it.
"""

from __future__ import annotations

import datetime as dt
import uuid

from pymongo import ASCENDING
from pymongo.database import Database

from qc import events

MATCHERS = ("rule", "site_id", "region_id")
MAX_DAYS = 90


class SilenceError(ValueError):
    """A silence that cannot be made; the message says why in plain words."""


class Silences:
    """The ``silences`` collection."""

    def __init__(self, db: Database):
        self.collection = db["silences"]

    def ensure_indexes(self) -> None:
        """Active silences by end time."""
        self.collection.create_index([("ends_at", ASCENDING)])

    def create(
        self,
        owner: str,
        matchers: dict,
        ends_at: dt.datetime,
        reason: str,
        now: dt.datetime,
        covers_safety: bool = False,
    ) -> dict:
        """Make a silence; SilenceError if it is too broad, too long, or has no reason.

        ``covers_safety``: whether it may hold back safety alerts (its owner is a regional manager or above).
        """
        matchers = {k: v for k, v in matchers.items() if k in MATCHERS and v}
        if not matchers:
            raise SilenceError(f"Say what to silence: at least one of {', '.join(MATCHERS)}.")
        if matchers.get("rule") == "urgent_concern":
            raise SilenceError("Urgent concerns are safeguarding matters and can never be silenced.")
        if ends_at <= now or ends_at > now + dt.timedelta(days=MAX_DAYS):
            raise SilenceError(f"'ends_at' must be in the future and at most {MAX_DAYS} days away.")
        if not reason or not reason.strip():
            raise SilenceError("Give a reason, so others know why these alerts are quiet.")
        doc = {
            "_id": str(uuid.uuid4()),
            "matchers": matchers,
            "owner": owner,
            "reason": reason.strip(),
            "covers_safety": bool(covers_safety),
            "created_at": now,
            "ends_at": ends_at,
            "reminded_at": None,
            "ended_by": None,
        }
        self.collection.insert_one(doc)
        return doc

    def active(self, now: dt.datetime) -> list[dict]:
        """Silences in force now."""
        return list(self.collection.find({"ends_at": {"$gt": now}, "ended_by": None}))

    def silencing(self, alert: dict, now: dt.datetime, active: list[dict] | None = None) -> dict | None:
        """The silence that holds this alert back, if any (never for safeguarding).

        ``active``: the silences in force, if the caller read them already (once per batch).
        """
        if alert.get("safeguarding"):
            return None
        # "rule": alerts raised before the "safety" field was stored.
        safety = alert.get("safety", alert.get("rule") == "safety_not_good")
        for silence in self.active(now) if active is None else active:
            if safety and not silence.get("covers_safety"):
                continue
            if all(alert.get(field) == value for field, value in silence["matchers"].items()):
                return silence
        return None

    def end(self, silence_id: str, by: str, now: dt.datetime) -> dict | None:
        """End a silence early."""
        self.collection.update_one({"_id": silence_id, "ended_by": None}, {"$set": {"ended_by": by, "ends_at": now}})
        return self.collection.find_one({"_id": silence_id})

    def needing_reminder(self, now: dt.datetime, before: dt.timedelta) -> list[dict]:
        """Active silences ending within ``before`` whose owner has not been reminded."""
        return list(
            self.collection.find({"ends_at": {"$gt": now, "$lte": now + before}, "ended_by": None, "reminded_at": None})
        )

    def mark_reminded(self, silence_id: str) -> None:
        """The owner has been told the silence ends soon."""
        self.collection.update_one({"_id": silence_id}, {"$set": {"reminded_at": events.now()}})
