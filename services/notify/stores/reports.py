"""Right-of-reply reports as the managers' home page needs them: which drafts wait for whom.

aggregate owns the reports (prepared, replied to, published) and publishes each change as
``org.qc.report.changed`` on the compacted ``qc.reports`` topic; this keeps the last state of each
in ``notify_reports`` (who may reply, who has, until when; never what anyone wrote). "Needs you today"
then lists, for a site manager, the drafts waiting for their site's reply; for a regional manager (or
an organisation-wide role), the drafts of their region(s) still waiting for replies or ready to publish.
A reply deadline passing changes the lists without any event: they are read against today.
"""

from __future__ import annotations

import datetime as dt

from pymongo import ASCENDING
from pymongo.database import Database

from qc import events
from qc.mongo import keep_latest


class Reports:
    """The ``notify_reports`` collection: the last known state of each region's report."""

    def __init__(self, db: Database):
        self.collection = db["notify_reports"]

    def ensure_indexes(self) -> None:
        """Drafts by region, for the home page."""
        self.collection.create_index([("status", ASCENDING), ("region_id", ASCENDING)])

    def apply(self, data: dict) -> None:
        """Keep a report's change unless a later one is kept already (events of one key arrive in order, but
        a replay or a redelivery may bring an older one again)."""
        doc = {"_id": data["report_id"], **{k: v for k, v in data.items() if k != "report_id"}}
        doc["at"] = events.parse_time(data["at"])
        keep_latest(self.collection, doc)

    def drafts(self, scope: dict) -> list[dict]:
        """Drafts in a scope (``{}``, ``{"region_id": …}``), the oldest period first."""
        query = {"status": "draft", **({"region_id": scope["region_id"]} if "region_id" in scope else {})}
        return sorted(self.collection.find(query), key=lambda d: (d["period"], d["region_id"]))


def waiting_for_site(drafts: list[dict], site_id: str, today: dt.date) -> list[dict]:
    """Drafts that cover the site, still open for replies, that it has not replied to."""
    return [
        d
        for d in drafts
        if site_id in d["site_ids"] and site_id not in d["replied_site_ids"] and today.isoformat() <= d["reply_by"]
    ]


def for_region_managers(drafts: list[dict], today: dt.date) -> list[dict]:
    """Each draft with ``ready`` (every site replied, or the time for replies is over: it can be published)
    and ``waiting`` (how many sites have not replied yet)."""
    out = []
    for d in drafts:
        waiting = len(set(d["site_ids"]) - set(d["replied_site_ids"]))
        out.append({**d, "waiting": waiting, "ready": waiting == 0 or today.isoformat() > d["reply_by"]})
    return out
