"""Which claimed checks the broker has acknowledged: written off the request path, never into the records.

A check's record says "sending" from its claim until the validator decides
it. In between, a reader must still be able to tell a check the broker has
(answered 202: "accepted") from one still being sent, in any process. The web
process that had the acknowledgement holds it in memory and inserts the ones
it holds about once a second into the ten-minute collection of their claim
(``accepted_<yyyymmddHHMM>``, beside the outbox's events: outbox.py), with one
``insert_many``. That is a tenth of a millisecond a check on SecantusDB, where
marking each record "accepted" was a guarded rewrite of it (about 2 ms, and
most needed, since under load the validator decides later than a second), and
the collections go when the outbox drops its consumed ten minutes.

A mark lost with its process costs nothing: the record then reads "sending"
until the validator decides it (the event is with the broker), and a retry
of that submission_id waits for it or, once the claim is stale, takes it over.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from pymongo.database import Database
from pymongo.errors import PyMongoError

from qc.mongo import find_in, write_unordered
from services.checks.stores.outbox import ACKS, bucket_of, ten_minutes

log = logging.getLogger(__name__)
SENDING = "sending"  # claimed by intake, not yet acknowledged by the broker
ACCEPTED = "accepted"
# How often the acknowledgements held by a process are written, in one insert per ten minutes.
MARK_EVERY_SECONDS = 1.0


class Acks:
    """This process's acknowledgements, held until written; and the reading of everyone's."""

    def __init__(self, db: Database, mark_every: float = MARK_EVERY_SECONDS):
        self.db = db
        self.mark_every = mark_every
        self._held: dict[str, dt.datetime] = {}  # submission_id -> its claim's time, acknowledged, not written
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._closing = threading.Event()

    def mark(self, submission_id: str, claimed_at: dt.datetime) -> None:
        """The broker has the check claimed at ``claimed_at``: read as accepted here now, everywhere within a second."""
        with self._lock:
            self._held[submission_id] = claimed_at
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_held, name="acks", daemon=True)
                self._writer.start()

    def write(self) -> int:
        """Write the held acknowledgements (one insert per ten minutes); how many."""
        with self._lock:
            held = dict(self._held)
        by_bucket: dict[str, list[dict]] = {}
        for submission_id, claimed_at in held.items():
            by_bucket.setdefault(bucket_of(claimed_at), []).append({"_id": submission_id, "claimed_at": claimed_at})
        for docs in by_bucket.values():
            # One written before (by a write that failed half-way) stands: the rest go in.
            write_unordered(ten_minutes(self.db, ACKS, docs[0]["claimed_at"]), docs)
        with self._lock:
            for submission_id in held:
                self._held.pop(submission_id, None)
        return len(held)

    def settle(self, records: list[dict]) -> list[dict]:
        """The records, those the broker has (held here or written by anyone) read as "accepted", not "sending"."""
        with self._lock:
            held = set(self._held)
        return settle(self.db, records, held)

    def close(self) -> None:
        """Write what is held (process exit) and stop the writing thread."""
        self._closing.set()
        if self._writer is not None:
            self._writer.join(timeout=5)
        try:
            self.write()
        except PyMongoError as e:
            log.warning("acknowledgements not written at exit: database unavailable", extra={"error": repr(e)[:300]})

    def _write_held(self) -> None:
        while not self._closing.wait(self.mark_every):
            try:
                self.write()
            except PyMongoError as e:  # kept, and tried again next time
                log.warning("acknowledgements not written yet: database unavailable", extra={"error": repr(e)[:300]})
                self._closing.wait(1.0)


def settle(db: Database, records: list[dict], held: set[str] = frozenset()) -> list[dict]:
    """The records, those still "sending" read as "accepted" when their acknowledgement is ``held`` (by the
    process asking) or has been written."""
    sending = [r for r in records if r.get("status") == SENDING]
    accepted = {r["_id"] for r in sending if r["_id"] in held}
    accepted |= written(db, [r for r in sending if r["_id"] not in accepted])
    for record in records:
        if record["_id"] in accepted:
            record["status"] = ACCEPTED
    return records


def written(db: Database, records: list[dict]) -> set[str]:
    """The ids of these records whose acknowledgement has been written (one read per ten minutes)."""
    by_bucket: dict[str, list[dict]] = {}
    for record in records:
        if record.get("claimed_at") is not None:
            by_bucket.setdefault(bucket_of(record["claimed_at"]), []).append(record)
    found: set[str] = set()
    for group in by_bucket.values():
        acks = ten_minutes(db, ACKS, group[0]["claimed_at"])
        found |= {d["_id"] for d in find_in(acks, "_id", [r["_id"] for r in group], projection={"_id": 1})}
    return found
