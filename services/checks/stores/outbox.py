"""The intake's outbox: a check answered 202 survives a broker that loses its log.

Intake keeps each check's "received" event in a collection of the ten
minutes it was claimed in (``outbox_<yyyymmddHHMM>``), inserted in the same
round trip as the record that claims its submission_id (``Submissions.claim``)
and before it publishes it; the inserts of the requests in flight go together. The
embedded broker keeps its log in memory only, so a broker restart loses every
event not yet consumed all the way down the pipeline (a Kafka cluster can lose
acknowledged events too, in an unclean leader election). The watch
(outbox_watch.py) notices the log going back and publishes the kept events
again with their original ids; the validator's "first decision stands" re-publishes an earlier
decision unchanged, and aggregate and notify drop what they have already
counted or raised.

Once every consumer group has read past them (outbox_watch.py), the events
are no longer needed: their ten minutes' collections are dropped whole, with
the broker's acknowledgements kept beside them (acks.py, ``accepted_<…>``).
Dropping a collection costs the database next to nothing, where taking each
event out of its check's record was a rewrite of that record (about 1.7 ms a
check on SecantusDB: docs/benchmarks.md, ninth round), and the checks' records
never carry the event's free text at all.

This module owns the ten-minute collections; the records are store.py's.
"""

from __future__ import annotations

import datetime as dt
import re

from pymongo import ASCENDING, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database

from qc.mongo import find_in

BUCKET_MINUTES = 10
EVENTS = "outbox"  # outbox_<ten minutes>: the events of the checks claimed then
ACKS = "accepted"  # accepted_<ten minutes>: which of those checks the broker acknowledged (acks.py)
_TEN_MINUTES = re.compile(r"(outbox|accepted)_(\d{12})")
# Records from before the events had collections of their own kept theirs in fields "event" and
# "outbox" (indexed, sparse); they are taken out as before, so an upgrade forgets them too.
LEGACY_CHUNK = 500


def bucket_of(at: dt.datetime) -> str:
    """The ten minutes an event kept at ``at`` is filed under (sorts as time does)."""
    at = at.astimezone(dt.UTC)
    start = at.replace(minute=at.minute - at.minute % BUCKET_MINUTES, second=0, microsecond=0)
    return start.strftime("%Y%m%d%H%M")


def ten_minutes(db: Database, family: str, at: dt.datetime) -> Collection:
    """The collection of ``family`` (EVENTS or ACKS) for the ten minutes holding ``at``."""
    return db[f"{family}_{bucket_of(at)}"]


def ended_before(db: Database, cutoff: str, family: str | None = None) -> list[str]:
    """The names of the ten-minute collections (of ``family``, or both) that ended before ``cutoff``."""
    names = []
    for name in sorted(db.list_collection_names()):
        found = _TEN_MINUTES.fullmatch(name)
        if found and found.group(2) < cutoff and family in (None, found.group(1)):
            names.append(name)
    return names


def drop_before(db: Database, cutoff: str) -> list[str]:
    """Drop every ten-minute collection (events and acknowledgements) that ended before ``cutoff``; their names."""
    names = ended_before(db, cutoff)
    for name in names:
        db.drop_collection(name)
    return names


class Outbox:
    """The kept "received" events, one collection per ten minutes."""

    def __init__(self, db: Database):
        self.db = db
        self.records = db["submissions"]

    def ensure_indexes(self) -> None:
        # Sparse: only legacy records still keeping their event are in it, so finding them is never a scan.
        self.records.create_index([("outbox", ASCENDING)], sparse=True)

    def to_keep(
        self, submission_id: str, site_id: str, claimed_at: dt.datetime, event: dict
    ) -> tuple[Collection, dict]:
        """Where and what to insert to keep a claimed check's event until the whole pipeline has read it.

        The claim inserts it in the same round trip as its record (``Submissions.claim``)."""
        doc = {"_id": submission_id, "site_id": site_id, "claimed_at": claimed_at, "event": event}
        return ten_minutes(self.db, EVENTS, claimed_at), doc

    def keep(self, submission_id: str, site_id: str, claimed_at: dt.datetime, event: dict) -> None:
        """Keep this claim's event in place of one an earlier claim of the same id left in these ten minutes
        (released, or taken over)."""
        collection, doc = self.to_keep(submission_id, site_id, claimed_at, event)
        collection.replace_one({"_id": submission_id}, doc, upsert=True)

    def kept_since(self, since: dt.datetime | None) -> list[dict]:
        """Events kept at or after ``since`` (all of them when None) whose check is still the one that kept
        them, oldest first: ``_id``, ``site_id``, ``claimed_at`` and ``event``.

        A claim given up (its publish failed) or taken over by a later request leaves its event behind;
        only the event of the claim its record holds now is the check's.
        """
        first = "" if since is None else bucket_of(since)
        kept = []
        for name in sorted(self.db.list_collection_names()):
            found = _TEN_MINUTES.fullmatch(name)
            if found and found.group(1) == EVENTS and found.group(2) >= first:
                kept += [d for d in self.db[name].find() if since is None or d["claimed_at"] >= since]
        claims = {
            d["_id"]: d["claimed_at"]
            for d in find_in(self.records, "_id", [d["_id"] for d in kept], projection={"claimed_at": 1})
        }
        kept += self._legacy_kept(first, since)
        return sorted((d for d in kept if claims.get(d["_id"], d.get("legacy")) == d["claimed_at"]), key=_claimed)

    def forget_before(self, before: dt.datetime) -> int:
        """Drop the events kept in every ten minutes that ended by ``before``; how many collections went."""
        cutoff = bucket_of(before)  # the ten minutes before this one have ended by then
        return len(drop_before(self.db, cutoff)) + self._forget_legacy(cutoff)

    def _legacy_kept(self, first: str, since: dt.datetime | None) -> list[dict]:
        fields = {"site_id": 1, "claimed_at": 1, "event": 1}
        found = self.records.find({"outbox": {"$gte": first}}, fields)
        return [{**d, "legacy": d["claimed_at"]} for d in found if since is None or d["claimed_at"] >= since]

    def _forget_legacy(self, cutoff: str) -> int:
        forgotten = 0
        while True:
            ids = [d["_id"] for d in self.records.find({"outbox": {"$lt": cutoff}}, {"_id": 1}, limit=LEGACY_CHUNK)]
            if not ids:
                return forgotten
            ops = [UpdateOne({"_id": i}, {"$unset": {"event": "", "outbox": ""}}) for i in ids]
            self.records.bulk_write(ops, ordered=False)
            forgotten += len(ids)


def _claimed(doc: dict) -> dt.datetime:
    return doc["claimed_at"]
