"""Telling notify about right-of-reply reports: each change is published as ``org.qc.report.changed``.

On the compacted ``qc.reports`` topic, keyed by the report, so the last state of each stays; notify keeps
it (services/notify/reports.py) for the managers' home page: drafts waiting for a site's reply, drafts ready
to publish. Who may reply and who has, never what anyone wrote. A report is stored first with ``told:
false`` and marked told once the broker has the event (for that change, not a later one made meanwhile);
one the broker could not take (it was down) is told by the aggregate worker's ``job`` on a later run.
"""

from __future__ import annotations

import logging
import time

from pymongo.collection import Collection
from pymongo.database import Database

from qc import events
from qc.kafka import Publisher, PublishError
from qc.settings import TOPICS, Settings

log = logging.getLogger(__name__)
RETRY_EVERY_SECONDS = 60.0


def changed_event(doc: dict) -> dict:
    """The event for a report as it stands; one id per change, so a repeat is one event."""
    history = doc.get("agg_report_history", [])
    data = {
        "report_id": doc["_id"],
        "region_id": doc["region_id"],
        "period": doc["period"],
        "status": doc["status"],
        "reply_by": doc["reply_by"],
        "site_ids": [s["site_id"] for s in doc["sites"]],
        "replied_site_ids": sorted(doc.get("replies", {})),
        "at": events.isoformat(doc["changed_at"]),
    }
    return events.make_event(
        "org.qc.report.changed",
        source="qc/aggregate/reports",
        subject=doc["_id"],
        data=data,
        event_id=f"{doc['_id']}:{len(history)}",
    )


class Teller:
    """Publishes a report's change and marks it told; False (logged) when the broker did not take it."""

    def __init__(self, publisher: Publisher, collection: Collection):
        self.publisher = publisher
        self.collection = collection

    def __call__(self, doc: dict) -> bool:
        try:
            self.publisher.publish_sync(TOPICS["reports"], doc["_id"], changed_event(doc))
        except PublishError:
            log.warning("report change not published yet; the worker will", extra={"report_id": doc["_id"]})
            return False
        self.collection.update_one({"_id": doc["_id"], "changed_at": doc["changed_at"]}, {"$set": {"told": True}})
        return True

    def tell_untold(self) -> int:
        """Publish every change not published yet, stopping at the first the broker does not take."""
        told = 0
        for doc in self.collection.find({"told": False}):
            if not self(doc):
                break
            told += 1
        return told


class _Job:
    """The aggregate worker's periodic job: at most once a minute, tell what the web app could not."""

    def __init__(self, settings: Settings, db: Database):
        self.settings = settings
        self.collection = db["agg_reports"]
        self.teller: Teller | None = None  # its own producer, made the first time there is something to tell
        self._last = -RETRY_EVERY_SECONDS

    def __call__(self) -> None:
        if time.monotonic() - self._last < RETRY_EVERY_SECONDS:
            return
        self._last = time.monotonic()
        if self.collection.find_one({"told": False}, {"_id": 1}) is None:
            return
        if self.teller is None:
            publisher = Publisher.for_settings(self.settings, "qc-aggregate-reports", source="qc/aggregate")
            self.teller = Teller(publisher, self.collection)
        self.teller.tell_untold()


def job(settings: Settings, db: Database) -> _Job:
    """Made by the worker's runner beside retention's."""
    return _Job(settings, db)
