"""What managers are doing about what people said, as a site's page lists it.

notify owns actions (services/notify/stores/actions.py) and publishes each change as ``org.qc.action.changed``
on ``qc.actions``; this keeps the last state of each in ``agg_actions`` (the managers' words only: what
will be done, what was done or why not, the day it is due), so a site's page lists the actions about it
and about its whole region beside what people said. A worker joining the group reads the topic from its
start: actions older than the topic keeps (30 days) are on notify's list and the board, not here.
"""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.database import Database

from qc import events
from qc.mongo import keep_latest

OPEN_STATES = ("open", "in_progress")
STATES = {"open": "Not started", "in_progress": "In progress", "done": "Done", "wont_do": "Will not be done"}
_KEPT = ("site_id", "region_id", "about", "period", "status", "what", "due_on", "done_words", "reason", "created_at")


class SiteActions:
    """The ``agg_actions`` collection: the last known state of each action."""

    def __init__(self, db: Database):
        self.collection = db["agg_actions"]

    def ensure_indexes(self) -> None:
        """A site's actions, and its region's."""
        self.collection.create_index([("site_id", ASCENDING)])
        self.collection.create_index([("region_id", ASCENDING), ("site_id", ASCENDING)])

    def apply(self, data: dict) -> None:
        """Keep an action's change unless a later one is kept already (a redelivery brings an older one)."""
        doc = {"_id": data["action_id"], **{k: data.get(k) for k in _KEPT}, "at": events.parse_time(data["at"])}
        keep_latest(self.collection, doc)

    def for_site(self, site_id: str, region_id: str | None) -> list[dict]:
        """The site's actions and those about its whole region: the ones to do first (soonest due), then the
        finished ones (the latest first)."""
        found = list(self.collection.find({"site_id": site_id}))
        if region_id:
            found += list(self.collection.find({"region_id": region_id, "site_id": None}))
        to_do = [a for a in found if a["status"] in OPEN_STATES]
        finished = [a for a in found if a["status"] not in OPEN_STATES]
        finished.sort(key=lambda a: a["at"], reverse=True)
        return sorted(to_do, key=lambda a: a.get("due_on") or "") + finished
