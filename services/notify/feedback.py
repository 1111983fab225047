"""What checkers said when asked "is it better now?", kept for the "You said, we did" board.

Only the latest answer of each checker about each alert counts (they may
change their mind); an older answer arriving late changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError


class FixFeedback:
    """The ``notify_feedback`` collection: one document per alert and checker."""

    def __init__(self, db: Database):
        self.collection = db["notify_feedback"]

    def ensure_indexes(self) -> None:
        """The board looks answers up by alert."""
        self.collection.create_index([("alert_id", ASCENDING)])

    def record(self, feedback: dict) -> None:
        """Keep this answer unless a later one from the same checker is already kept (safe to repeat)."""
        at = dt.datetime.fromisoformat(feedback["at"])
        # Keyed by a digest, not the checker id: what the board needs is a count, not who said it.
        doc_id = hashlib.sha256(f"{feedback['alert_id']}:{feedback['checker_id']}".encode()).hexdigest()
        try:
            self.collection.update_one(
                {"_id": doc_id, "at": {"$lt": at}},
                {"$set": {"alert_id": feedback["alert_id"], "answer": feedback["answer"], "at": at}},
                upsert=True,
            )
        except DuplicateKeyError:
            pass  # a later (or the same) answer is kept already

    def counts(self, alert_ids: list[str]) -> dict[str, Counter]:
        """alert id -> how many people said better / a_bit / no."""
        out: dict[str, Counter] = {}
        for doc in self.collection.find({"alert_id": {"$in": list(alert_ids)}}):
            out.setdefault(doc["alert_id"], Counter())[doc["answer"]] += 1
        return out
