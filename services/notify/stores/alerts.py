"""notify's alerts: raised once per key, then acknowledged, escalated and resolved."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from qc import events
from qc.mongo import find_in, update_and_read, write_unordered
from services.notify.rules.alerts import Candidate

log = logging.getLogger(__name__)
OPEN_STATUSES = ("open", "acknowledged")
_SETS = ("question_ids", "submission_ids", "checker_ids", "voices")  # what joining an alert adds to


def _add_to_sets(doc: dict, adding: dict) -> None:
    """What ``$addToSet`` (with ``$each`` where given) did to the stored alert, done to a copy held in memory."""
    for field, value in adding.items():
        values = value["$each"] if isinstance(value, dict) and "$each" in value else [value]
        present = doc.setdefault(field, [])
        for item in values:
            if item not in present:
                present.append(item)


def _escalate_at(now, minutes: int | None):
    return now + dt.timedelta(minutes=minutes) if minutes else None


class AlertStore:
    """Alerts deduplicated by key: one open alert per key collects every occurrence."""

    def __init__(self, db: Database):
        self.alerts = db["alerts"]
        self._held: dict[str, dict] | None = None  # new alerts of a batch, by id, not stored yet (``held``)
        self._stored: set[str] = set()  # which of the batch's candidate ids are stored already

    @contextlib.contextmanager
    def held(self, candidate_ids: set[str]):
        """Inside: a new alert that is not safeguarding is kept here and the batch's are inserted together
        at the end, in one round trip (an insert each was a third of the notify worker's time at 100
        checks a second). A worry is still inserted at once.

        ``candidate_ids``: the ids the batch's checks would give new alerts; those stored already (a
        redelivered batch) are looked up first, in one query, and take the one-by-one path, which
        finds them. Nothing is held if the batch fails: it is delivered again.
        """
        self._stored = {a["_id"] for a in find_in(self.alerts, "_id", candidate_ids, projection={"_id": 1})}
        self._held = {}
        try:
            yield
            self._insert_held()
        finally:
            self._held, self._stored = None, set()

    def route_held(self, alert_ids) -> set[str]:
        """Of these alerts (their deliveries are planned), those held: they will be stored as routed."""
        ids = set(alert_ids) & set(self._held or ())
        for alert_id in ids:
            self._held[alert_id]["routed"] = True
        return ids

    def _insert_held(self) -> None:
        docs = list(self._held.values())
        for i in write_unordered(self.alerts, docs):
            # Stored meanwhile by another worker (a rebalance): what this batch joined to it is added there.
            doc = docs[i]
            joining = {field: {"$each": doc[field]} for field in _SETS if doc[field]}
            self.alerts.update_one({"_id": doc["_id"], "status": {"$in": list(OPEN_STATUSES)}}, {"$addToSet": joining})
            log.warning("alert stored by another worker first; joined it", extra={"alert_id": doc["_id"]})

    def ensure_indexes(self) -> None:
        """Indexes for de-duplication, listing and delivery retries."""
        self.alerts.create_index([("key", ASCENDING), ("status", ASCENDING)])
        self.alerts.create_index([("routed", ASCENDING)])
        self.alerts.create_index([("region_id", ASCENDING), ("status", ASCENDING), ("raised_at", DESCENDING)])
        self.alerts.create_index([("status", ASCENDING), ("escalate_at", ASCENDING)])
        # join_recent_worry: a checker's latest alerts (few per checker, so the rest of its filter is cheap).
        self.alerts.create_index([("checker_id", ASCENDING), ("raised_at", DESCENDING)])

    def open_by_key(self, keys: set[str]) -> dict[str, dict]:
        """The open alert of each of these keys that has one, by key (one query for a batch)."""
        if not keys:
            return {}
        query = {"key": {"$in": sorted(keys)}, "status": {"$in": list(OPEN_STATUSES)}}
        return {a["key"]: a for a in self.alerts.find(query)}

    def raise_or_join(self, candidate: Candidate, details: dict, open_now: dict | None = None) -> tuple[dict, bool]:
        """(alert, is_new): join the open alert with this key, or open a new one.

        ``open_now``: the open alerts by key, read ahead for a batch (``open_by_key``, this key among
        those read). A key not in it has no open alert to join, so the new one is inserted straight
        away (one round trip rather than two); it is kept up to date here for the rest of the batch.
        """
        joining = {"question_ids": {"$each": list(candidate.question_ids)}}
        if candidate.submission_id:
            joining["submission_ids"] = candidate.submission_id
        if candidate.checker_id:
            joining["checker_ids"] = candidate.checker_id
        if candidate.voices:
            # Built the same way every time, so a redelivered event adds nothing twice.
            joining["voices"] = {"$each": list(candidate.voices)}
        is_open = {"key": candidate.key, "status": {"$in": list(OPEN_STATUSES)}}
        held = (open_now or {}).get(candidate.key)
        if held is not None and self._held is not None and held["_id"] in self._held:
            _add_to_sets(held, joining)  # new in this batch and not stored yet: joined here, stored with it
            return held, False
        if held is not None:
            # Read ahead for this batch: joined by its _id, and kept up to date here rather than read back.
            still_open = {"_id": held["_id"], "status": {"$in": list(OPEN_STATUSES)}}
            if self.alerts.update_one(still_open, {"$addToSet": joining}).matched_count:
                _add_to_sets(held, joining)
                return held, False
        if open_now is None or candidate.key in open_now:
            if self.alerts.update_one(is_open, {"$addToSet": joining}).matched_count:
                # Read back as it is now: still open, or (closed in between) the latest with this key.
                joined = self.alerts.find_one(is_open) or self.alerts.find_one(
                    {"key": candidate.key}, sort=[("raised_at", DESCENDING)]
                )
                return joined, False
        now = events.now()
        rule = candidate.rule
        doc = {
            "_id": candidate.alert_id,
            "key": candidate.key,
            "rule": candidate.rule.id,
            "severity": candidate.rule.severity,
            "notify": list(rule.notify),
            # How to deliver, fixed when raised so a later rules change cannot
            # silently drop an alert that is already open.
            "immediate": rule.immediate,
            "safeguarding": rule.safeguarding,
            "safety": rule.safety,
            "escalate_to": list(rule.escalate_to),
            "escalate_at": now + dt.timedelta(minutes=rule.escalate_after_minutes)
            if rule.escalate_after_minutes
            else None,
            "checker_id": candidate.checker_id,
            # Whose checks are behind the alert: their supporters may be told the response.
            "checker_ids": [candidate.checker_id] if candidate.checker_id else [],
            # Each answer behind the alert with what its checker agreed to share; shown only through consent.py.
            "voices": list(candidate.voices),
            "site_id": candidate.site_id,
            "region_id": candidate.region_id,
            "period": candidate.period,
            "status": "open",
            "raised_at": now,
            "submission_ids": [candidate.submission_id] if candidate.submission_id else [],
            "question_ids": list(candidate.question_ids),
            "summary": candidate.summary,
            "details": details,
            "history": [{"status": "open", "by": "qc", "at": now}],
            "routed": False,
        }
        if self._held is not None and open_now is not None and not rule.safeguarding and doc["_id"] not in self._stored:
            self._held[doc["_id"]] = doc
            open_now[candidate.key] = doc
            return doc, True
        try:
            self.alerts.insert_one(doc)
        except DuplicateKeyError:
            # Raised before from this very submission (redelivery or replay).
            existing = self.alerts.find_one({"_id": candidate.alert_id})
            if open_now is not None and existing and existing["status"] in OPEN_STATUSES:
                open_now[candidate.key] = existing
            return existing, False
        if open_now is not None:
            open_now[candidate.key] = doc
        return doc, True

    def join_recent_worry(self, candidate: Candidate, text: str, received_at: str, minutes: int) -> dict | None:
        """Add a worry to the same checker's open worry alert at this site whose worry was sent within
        ``minutes`` of this one (``received_at``); the alert joined, or None.

        One checker can send many worries in a few minutes (a phone, a crisis, or someone else holding
        it): each is kept, in full, on one alert, which was routed when it was raised, rather than each
        raising its own alert and a round of e-mails. Never for an alert that is closed or older.
        """
        if not candidate.checker_id:
            return None
        sent = events.parse_time(received_at)
        window = dt.timedelta(minutes=minutes)
        query = {
            "checker_id": candidate.checker_id,
            # The same format as received_at everywhere (events.isoformat): compared as text.
            "details.received_at": {
                "$gte": events.isoformat(sent - window),
                "$lte": events.isoformat(sent + window),
            },
            "rule": candidate.rule.id,
            "site_id": candidate.site_id,
            "status": {"$in": list(OPEN_STATUSES)},
        }
        recent = self.alerts.find_one(query, sort=[("raised_at", DESCENDING)])
        if recent is None or recent["_id"] == candidate.alert_id:
            return None
        if candidate.submission_id in recent.get("submission_ids", []):
            return recent  # this very worry, redelivered
        joined = {
            "submission_ids": candidate.submission_id,
            "voices": {"$each": list(candidate.voices)},
            # Idempotent: the same worry redelivered adds nothing twice.
            "details.more_concerns": {"submission_id": candidate.submission_id, "text": text},
        }
        return update_and_read(
            self.alerts, {"_id": recent["_id"], "status": {"$in": list(OPEN_STATUSES)}}, {"$addToSet": joined}
        )

    def get(self, alert_id: str) -> dict | None:
        """One alert, or None."""
        return self.alerts.find_one({"_id": alert_id})

    def get_many(self, alert_ids) -> dict[str, dict]:
        """The alerts of these ids that exist, by id, in short ``_id $in`` look-ups (the sending thread's)."""
        return {a["_id"]: a for a in find_in(self.alerts, "_id", alert_ids)}

    def waiting(self, scope: dict) -> list[dict]:
        """Every open or acknowledged alert in a scope, oldest first, without what was said (the home page)."""
        fields = {"voices": 0, "details": 0, "history": 0, "checker_ids": 0}
        query = {**scope, "status": {"$in": list(OPEN_STATUSES)}}
        return list(self.alerts.find(query, fields, sort=[("raised_at", ASCENDING)]))

    def list(self, query: dict, limit: int = 200) -> list[dict]:
        """Alerts matching ``query``, newest first."""
        return list(self.alerts.find(query, sort=[("raised_at", DESCENDING)], limit=limit))

    def transition(
        self, alert_id: str, allowed_from: tuple[str, ...], status: str, by: str, extra: dict
    ) -> dict | None:
        """Move an alert on (open → acknowledged → resolved); None if it was not in ``allowed_from``."""
        now = events.now()
        return update_and_read(
            self.alerts,
            {"_id": alert_id, "status": {"$in": list(allowed_from)}},
            {
                "$set": {"status": status, f"{status}_by": by, f"{status}_at": now, **extra},
                "$push": {"history": {"status": status, "by": by, "at": now}},
            },
        )

    def reopen(self, alert_id: str, answered_at) -> dict | None:
        """Back to open after a checker says "not better", unless it was resolved again since they answered."""
        now = events.now()
        return update_and_read(
            self.alerts,
            {"_id": alert_id, "status": "resolved", "resolved_at": {"$lte": answered_at}},
            {
                "$set": {"status": "open", "reopened_at": now},
                "$push": {"history": {"status": "reopened", "by": "checker", "at": now}},
            },
        )

    def unrouted(self, limit: int = 100) -> list[dict]:
        """Open alerts nobody has been told about yet."""
        return list(self.alerts.find({"routed": False, "status": {"$in": list(OPEN_STATUSES)}}, limit=limit))

    def mark_routed(self, *alert_ids: str) -> None:
        """Deliveries are planned for these alerts (one write for all of them)."""
        if alert_ids:
            self.alerts.update_many({"_id": {"$in": list(alert_ids)}}, {"$set": {"routed": True}})

    def due_for_escalation(self, now) -> list[dict]:
        """Open (not acknowledged) alerts whose time to be acknowledged has passed."""
        return list(self.alerts.find({"status": "open", "escalate_at": {"$ne": None, "$lte": now}}))

    def mark_escalated(self, alert_id: str, now) -> bool:
        """Record the escalation once; False if another worker did it first."""
        result = self.alerts.update_one(
            {"_id": alert_id, "escalate_at": {"$ne": None}},
            {
                "$set": {"escalate_at": None, "escalated_at": now},
                "$push": {"history": {"status": "escalated", "by": "qc", "at": now}},
            },
        )
        return result.modified_count == 1
