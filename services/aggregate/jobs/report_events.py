"""Telling notify about right-of-reply reports: each change is published as ``org.qc.report.changed``.

On the compacted ``qc.reports`` topic, keyed by the report, so the last state of each stays; notify keeps
it (services/notify/stores/reports.py) for the managers' home page: drafts waiting for a site's reply, drafts ready
to publish. Who may reply and who has, never what anyone wrote. A report is stored first with ``told:
false`` and marked told once the broker has the event (for that change, not a later one made meanwhile);
one the broker could not take (it was down) is told by the aggregate worker's ``job`` on a later run.
"""

from __future__ import annotations

from pymongo.collection import Collection
from pymongo.database import Database

from qc import events, told
from qc.kafka import Publisher
from qc.settings import TOPICS, Settings


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


class Teller(told.Teller):
    """Publishes a report's change and marks it told (that change, not a later one made meanwhile)."""

    def __init__(self, publisher: Publisher, collection: Collection):
        def mark_told(doc: dict) -> None:
            collection.update_one({"_id": doc["_id"], "changed_at": doc["changed_at"]}, {"$set": {"told": True}})

        super().__init__(
            publisher, TOPICS["reports"], changed_event, mark_told, lambda: collection.find({"told": False})
        )


def job(settings: Settings, db: Database) -> told.RetryJob:
    """The aggregate worker's periodic job (made by its runner beside retention's)."""
    collection = db["agg_reports"]
    return told.RetryJob(
        lambda: collection.find_one({"told": False}, {"_id": 1}) is not None,
        lambda: Teller(Publisher.for_settings(settings, "qc-aggregate-reports", source="qc/aggregate"), collection),
    )
