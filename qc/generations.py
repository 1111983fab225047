"""A shared change counter: how a process knows that what it holds in memory is out of date.

Writers bump it after they change the collection it stands for; readers
read it (one look-up by ``_id``) before they trust their copy, and drop the
copy when it has moved. The ``generations`` collection of each service's
database holds one document per counter.
"""

from __future__ import annotations

from pymongo.database import Database


class Generation:
    """One named counter in the ``generations`` collection."""

    def __init__(self, db: Database, name: str):
        self.collection = db["generations"]
        self.name = name

    def bump(self) -> None:
        """Say that something this counter stands for has changed (after the change is stored)."""
        self.collection.update_one({"_id": self.name}, {"$inc": {"n": 1}}, upsert=True)

    def read(self) -> int:
        """The counter now (0 before the first bump)."""
        return (self.collection.find_one({"_id": self.name}) or {}).get("n", 0)
