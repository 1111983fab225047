"""Fixes confirmed and disputed: checkers' answers to "is it better now?", counted per site, region and period.

One record per alert (or action) and checker (the latest answer wins), filed under the
periods of the day it was given. Kept apart from the facts, so a replay of
the validated topic leaves it as it is.
"""

from __future__ import annotations

import datetime as dt

from pymongo import ASCENDING
from pymongo.database import Database

from qc import periods

COUNTS = {"better": "confirmed", "a_bit": "partly", "no": "disputed"}


class Feedback:
    """The ``agg_feedback`` collection."""

    def __init__(self, db: Database):
        self.collection = db["agg_feedback"]

    def ensure_indexes(self) -> None:
        """Counting by site or region and period."""
        for kind in periods.KINDS:
            self.collection.create_index([("site_id", ASCENDING), (f"periods.{kind}", ASCENDING)])
            self.collection.create_index([("region_id", ASCENDING), (f"periods.{kind}", ASCENDING)])

    def record(self, data: dict) -> None:
        """Keep one answer; an older answer arriving late never replaces a newer one."""
        at = dt.datetime.fromisoformat(data["at"])
        doc = {
            "_id": f"{data.get('alert_id') or data['action_id']}:{data['checker_id']}",  # about an alert or an action
            "site_id": data["site_id"],
            "region_id": data["region_id"],
            "answer": data["answer"],
            "at": at,
            "periods": periods.periods_of(at.date()),
        }
        self.collection.update_one({"_id": doc["_id"], "at": {"$lt": at}}, {"$set": doc}, upsert=False)
        self.collection.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)

    def counts(self, scope: str, entity_id: str, period: str) -> dict:
        """{confirmed, partly, disputed} for a site, a region or the organisation in a period."""
        query = {f"periods.{periods.kind_of(period)}": period}
        if scope == "site":
            query["site_id"] = entity_id
        elif scope == "region":
            query["region_id"] = entity_id
        out = dict.fromkeys(COUNTS.values(), 0)
        for row in self.collection.aggregate([{"$match": query}, {"$group": {"_id": "$answer", "n": {"$sum": 1}}}]):
            out[COUNTS[row["_id"]]] = row["n"]
        return out
