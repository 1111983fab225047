"""What checkers said when asked "is it better now?", kept for the "You said, we did" board.

Only the latest answer of each checker about each alert (or action) counts (they may
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
        """The board looks answers up by alert and by action."""
        self.collection.create_index([("alert_id", ASCENDING)])
        self.collection.create_index([("action_id", ASCENDING)], sparse=True)

    def record(self, feedback: dict) -> None:
        """Keep this answer unless a later one from the same checker is already kept (safe to repeat)."""
        at = dt.datetime.fromisoformat(feedback["at"])
        field = "action_id" if "action_id" in feedback else "alert_id"  # what the answer is about
        # Keyed by a digest, not the checker id: what the board needs is a count, not who said it.
        doc_id = hashlib.sha256(f"{feedback[field]}:{feedback['checker_id']}".encode()).hexdigest()
        try:
            self.collection.update_one(
                {"_id": doc_id, "at": {"$lt": at}},
                {"$set": {field: feedback[field], "answer": feedback["answer"], "at": at}},
                upsert=True,
            )
        except DuplicateKeyError:
            pass  # a later (or the same) answer is kept already

    def counts(self, ids: list[str], field: str = "alert_id") -> dict[str, Counter]:
        """alert id (or action id, by ``field``) -> how many people said better / a_bit / no."""
        out: dict[str, Counter] = {}
        for doc in self.collection.find({field: {"$in": list(ids)}}):
            out.setdefault(doc[field], Counter())[doc["answer"]] += 1
        return out
