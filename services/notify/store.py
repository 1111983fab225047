"""notify's collections: alerts, contacts (from the directory) and deliveries."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from qc import events
from services.notify.rules import Candidate

OPEN_STATUSES = ("open", "acknowledged")


class AlertStore:
    """Alerts deduplicated by key: one open alert per key collects every occurrence."""

    def __init__(self, db: Database):
        self.alerts = db["alerts"]
        self.contacts = db["contacts"]
        self.deliveries = db["deliveries"]
        self.sites = db["notify_sites"]

    def ensure_indexes(self) -> None:
        """Indexes for de-duplication, listing and delivery retries."""
        self.alerts.create_index([("key", ASCENDING), ("status", ASCENDING)])
        self.alerts.create_index([("routed", ASCENDING)])
        self.alerts.create_index([("region_id", ASCENDING), ("status", ASCENDING), ("raised_at", DESCENDING)])
        self.contacts.create_index([("role", ASCENDING), ("site_id", ASCENDING)])
        self.contacts.create_index([("role", ASCENDING), ("region_id", ASCENDING)])
        self.deliveries.create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)])

    def raise_or_join(self, candidate: Candidate, details: dict) -> tuple[dict, bool]:
        """(alert, is_new): join the open alert with this key, or open a new one."""
        joined = self.alerts.find_one_and_update(
            {"key": candidate.key, "status": {"$in": list(OPEN_STATUSES)}},
            {
                "$addToSet": {
                    "submission_ids": candidate.submission_id,
                    "question_ids": {"$each": list(candidate.question_ids)},
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if joined is not None:
            return joined, False
        now = events.now()
        doc = {
            "_id": candidate.alert_id,
            "key": candidate.key,
            "rule": candidate.rule.id,
            "severity": candidate.rule.severity,
            "notify": list(candidate.rule.notify),
            "site_id": candidate.site_id,
            "region_id": candidate.region_id,
            "period": candidate.period,
            "status": "open",
            "raised_at": now,
            "submission_ids": [candidate.submission_id],
            "question_ids": list(candidate.question_ids),
            "summary": candidate.summary,
            "details": details,
            "history": [{"status": "open", "by": "qc", "at": now}],
            "routed": False,
        }
        try:
            self.alerts.insert_one(doc)
        except DuplicateKeyError:
            # Raised before from this very submission (redelivery or replay).
            return self.alerts.find_one({"_id": candidate.alert_id}), False
        return doc, True

    def get(self, alert_id: str) -> dict | None:
        """One alert, or None."""
        return self.alerts.find_one({"_id": alert_id})

    def list(self, query: dict, limit: int = 200) -> list[dict]:
        """Alerts matching ``query``, newest first."""
        return list(self.alerts.find(query, sort=[("raised_at", DESCENDING)], limit=limit))

    def transition(
        self, alert_id: str, allowed_from: tuple[str, ...], status: str, by: str, extra: dict
    ) -> dict | None:
        """Move an alert on (open → acknowledged → resolved); None if it was not in ``allowed_from``."""
        now = events.now()
        return self.alerts.find_one_and_update(
            {"_id": alert_id, "status": {"$in": list(allowed_from)}},
            {
                "$set": {"status": status, f"{status}_by": by, f"{status}_at": now, **extra},
                "$push": {"history": {"status": status, "by": by, "at": now}},
            },
            return_document=ReturnDocument.AFTER,
        )

    def save_contact(self, data: dict) -> None:
        """Keep a person's role and e-mail address from the directory."""
        self.contacts.replace_one(
            {"_id": data["id"]},
            {
                "_id": data["id"],
                "role": data.get("role"),
                "site_id": data.get("site_id"),
                "region_id": data.get("region_id"),
                "email": data.get("email"),
                "active": data["active"],
            },
            upsert=True,
        )

    def unrouted(self, limit: int = 100) -> list[dict]:
        """Open alerts nobody has been told about yet."""
        return list(self.alerts.find({"routed": False, "status": {"$in": list(OPEN_STATUSES)}}, limit=limit))

    def mark_routed(self, alert_id: str) -> None:
        """Deliveries are planned for this alert."""
        self.alerts.update_one({"_id": alert_id}, {"$set": {"routed": True}})

    def save_site(self, data: dict) -> None:
        """Keep a site's name and region from the directory (for e-mails and scoping)."""
        self.sites.replace_one(
            {"_id": data["id"]},
            {"_id": data["id"], "name": data["name"], "region_id": data.get("region_id"), "active": data["active"]},
            upsert=True,
        )

    def recipients(self, alert: dict) -> list[dict]:
        """Active people with an e-mail address whom this alert's rule says to tell."""
        wanted = []
        if "site_manager" in alert["notify"]:
            wanted.append({"role": "site_manager", "site_id": alert["site_id"]})
        if "regional_manager" in alert["notify"]:
            wanted.append({"role": "regional_manager", "region_id": alert["region_id"]})
        if "safeguarding_lead" in alert["notify"]:
            wanted.append({"role": "safeguarding_lead"})
        if not wanted:
            return []
        return list(
            self.contacts.find({"$or": wanted, "active": True, "email": {"$ne": None}}, sort=[("_id", ASCENDING)])
        )
