"""checks' record of every submission: accepted, then validated or rejected.

Intake and the validator may write a submission in either order (the
validator can be faster than intake's own write after the broker's ack), so
both upsert, and each only sets the fields it owns.
"""

from __future__ import annotations

import datetime as dt

from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from qc import events

SENDING = "sending"  # claimed by intake, not yet acknowledged by the broker

# Fields copied from the received event; either writer may create the record.
_INTAKE_FIELDS = (
    "checker_id",
    "site_id",
    "question_set",
    "visited_on",
    "content_hash",
    "received_at",
)


class Submissions:
    """The ``submissions`` collection, keyed by the client's submission_id."""

    def __init__(self, db: Database):
        self.collection = db["submissions"]

    def ensure_indexes(self) -> None:
        """Indexes for the duplicate rule and a checker's list."""
        self.collection.create_index([("checker_id", ASCENDING), ("site_id", ASCENDING), ("visited_on", ASCENDING)])

    def get(self, submission_id: str) -> dict | None:
        """One submission's record, or None."""
        return self.collection.find_one({"_id": submission_id})

    def claim(self, received: dict, correlation_id: str, stale_after: float) -> dict | None:
        """Claim a new submission_id before publishing it; None if someone else holds it.

        The unique ``_id`` makes one of several simultaneous identical POSTs the
        publisher; the others wait for its outcome. A claim left by a process
        that died while publishing goes stale and may be taken over.
        """
        now = events.now()
        doc = {f: received[f] for f in _INTAKE_FIELDS}
        doc.update(
            _id=received["submission_id"],
            status=SENDING,
            claimed_at=now,
            reasons=[],
            responses=[],
            correlation_id=correlation_id,
        )
        try:
            self.collection.insert_one(doc)
            return doc
        except DuplicateKeyError:
            pass
        return self.collection.find_one_and_update(
            {
                "_id": received["submission_id"],
                "status": SENDING,
                "claimed_at": {"$lt": now - dt.timedelta(seconds=stale_after)},
            },
            {"$set": {"claimed_at": now}},
            return_document=ReturnDocument.AFTER,
        )

    def release(self, submission_id: str) -> None:
        """Give up a claim whose publish failed, so a retry can make it."""
        self.collection.delete_one({"_id": submission_id, "status": SENDING})

    def mark_accepted(self, submission_id: str) -> None:
        """The broker has it; the validator may have decided already, which stands."""
        self.collection.update_one({"_id": submission_id, "status": SENDING}, {"$set": {"status": "accepted"}})

    def record_accepted(self, received: dict, correlation_id: str) -> dict:
        """Note that the broker acknowledged this submission; returns the record."""
        on_insert = {f: received[f] for f in _INTAKE_FIELDS}
        on_insert.update(status="accepted", reasons=[], responses=[], correlation_id=correlation_id)
        return self.collection.find_one_and_update(
            {"_id": received["submission_id"]},
            {"$setOnInsert": on_insert},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )

    def record_decision(self, received: dict, status: str, reasons: list, region_id) -> dict:
        """Store the validator's decision once; a repeat returns the first one."""
        on_insert = {f: received[f] for f in _INTAKE_FIELDS}
        on_insert.update(responses=[])
        try:
            return self.collection.find_one_and_update(
                # Matches only an undecided record, so a redelivery cannot
                # overwrite the first decision: its upsert hits the unique _id.
                {"_id": received["submission_id"], "decided_at": {"$exists": False}},
                {
                    "$set": {
                        "status": status,
                        "reasons": reasons,
                        "region_id": region_id,
                        "decided_at": events.now(),
                    },
                    "$setOnInsert": on_insert,
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return self.get(received["submission_id"])

    def find_duplicate(self, received: dict) -> dict | None:
        """An earlier, validated submission with the same checker, site, visit and content."""
        return self.collection.find_one(
            {
                "checker_id": received["checker_id"],
                "site_id": received["site_id"],
                "visited_on": received["visited_on"],
                "content_hash": received["content_hash"],
                "status": "validated",
                "_id": {"$ne": received["submission_id"]},
            }
        )

    def record_feedback(self, submission_id: str, alert_id: str, answer: str, at: str) -> None:
        """Keep the checker's answer to "is it better now?" beside the response it is about."""
        doc = self.get(submission_id) or {}
        responses = doc.get("responses", [])
        for response in responses:
            if response.get("alert_id") == alert_id:
                response["feedback"] = {"answer": answer, "at": at}
        self.collection.update_one({"_id": submission_id}, {"$set": {"responses": responses}})

    def add_response(self, submission_ids: list[str], response: dict) -> None:
        """Record what managers did about the alert these submissions raised."""
        self.collection.update_many(
            {"_id": {"$in": submission_ids}},
            {"$pull": {"responses": {"alert_id": response["alert_id"]}}},
        )
        self.collection.update_many({"_id": {"$in": submission_ids}}, {"$push": {"responses": response}})
