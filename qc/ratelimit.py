"""Rate limits shared by every worker and process: fixed-window counters in MongoDB.

One document per (limit, key, window) holds the window's count, ``$inc``-ed
atomically, so gunicorn workers and separate machines share one count; a TTL
index removes a window's documents once it is over. Keys are HMACs of the
token or address, so the collection holds no secrets or addresses. A fixed
window lets a client send up to twice the limit across a window's edge; that
is fine for stopping floods and password guessing, which is all this is for.

Counting every request with a round trip cost more than the rest of intake
(docs/benchmarks.md), so each process counts in memory as far as it safely
can and writes the counts in one bulk write about once a second:

- a request over the limit by this process's own count (the last count read
  from the database plus the hits not yet written) is refused without a
  write: counts only grow within a window, so that refusal is always right;
- a process may let through up to ``SLACK`` (1 %) of a limit per key without
  reading the shared count; the next request writes its hits with one atomic
  ``$inc`` and decides on the count that returns. The trade-off: the
  total let through in a window may exceed the limit by up to that 1 % per
  process serving the key. With limits under 100 the slack is 0, so a
  checker's 30 a minute and sign-ins' 10 are decided exactly, with one
  conditional upsert each (``_take_one``); a care home's 300 a minute costs
  two round trips every fourth request, and the bulk write.

The submission routes count in this process only (``shared=False``): sending
a check is the hot path, and a write or read per request there cost more than
the rest of intake together. Each process then lets through up to the limit
on its own, so across processes a key can send up to (processes serving it)
times the limit: with gunicorn's 2 workers, a checker's 30 a minute becomes
at most 60, and a care home's 300 at most 600. Both are still far below a
flood, which is what these limits are for; sign-ins, where guessing is the
threat, stay shared and exact.

If the database cannot be reached the request is let through (and logged):
the routes limited here need the database anyway and will answer 503 or fail
on their own, and a limiter should never be the reason a check is lost.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
import math
import threading
import time

from pymongo import UpdateOne
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from qc.mongo import write_unordered

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60
# Share of a limit one process may let through per key before it asks the database.
SLACK = 0.01
FLUSH_SECONDS = 1.0


@dataclasses.dataclass(frozen=True)
class Decision:
    """The outcome of counting one request against one limit."""

    allowed: bool
    count: int
    limit: int
    retry_after: int


@dataclasses.dataclass
class _Count:
    """This process's view of one (limit, key, window) document."""

    window: int
    expires_at: dt.datetime
    known: int = 0  # the document's count when last read, plus what was written since (a lower bound)
    pending: int = 0  # hits counted here and not yet written
    unchecked: int = 0  # hits let through since the shared count was last read


class RateLimiter:
    """Counts requests per key in the ``rate_limits`` collection (thread-safe; one per process)."""

    def __init__(
        self,
        db: Database,
        secret_key: str,
        *,
        window_seconds: int = WINDOW_SECONDS,
        clock=time.time,
        flush_seconds: float = FLUSH_SECONDS,
    ):
        self.collection = db["rate_limits"]
        self.secret = secret_key.encode()
        self.window = window_seconds
        self.clock = clock
        self.flush_seconds = flush_seconds
        self._indexed = False
        self._lock = threading.Lock()
        self._counts: dict[str, _Count] = {}
        self._here: dict[str, int] = {}  # in-process limits: hits by (limit, key, window)
        self._here_window = 0
        self._flushed_at = time.monotonic()

    def ensure_indexes(self) -> None:
        """The TTL index that removes finished windows."""
        self.collection.create_index("expires_at", expireAfterSeconds=0)
        self._indexed = True

    def hit_here(self, name: str, key: str, limit: int) -> Decision:
        """Count one request in this process only (no database): allowed while this process's count <= ``limit``."""
        now = self.clock()
        window = int(now // self.window)
        retry_after = max(1, math.ceil((window + 1) * self.window - now))
        doc_id = f"{name}:{self._digest(key)}"
        with self._lock:
            if window != self._here_window:  # a new window: every count starts again
                self._here, self._here_window = {}, window
            count = self._here[doc_id] = self._here.get(doc_id, 0) + 1
        return Decision(count <= limit, count, limit, retry_after)

    def hit(self, name: str, key: str, limit: int) -> Decision:
        """Count one request for ``key`` under limit ``name``; allowed while the window's count <= ``limit``."""
        if not self._indexed:
            self.ensure_indexes()
        now = self.clock()
        window = int(now // self.window)
        ends = (window + 1) * self.window
        retry_after = max(1, math.ceil(ends - now))
        doc_id = f"{name}:{self._digest(key)}:{window}"
        with self._lock:
            count = self._counts.get(doc_id)
            if count is None:
                # A little after the window ends, so a slow clock elsewhere still finds it.
                expires = dt.datetime.fromtimestamp(ends + self.window, dt.UTC)
                count = self._counts[doc_id] = _Count(window, expires)
            count.pending += 1
            count.unchecked += 1
            estimate = count.known + count.pending
            due = time.monotonic() - self._flushed_at >= self.flush_seconds
            if estimate > limit:
                decision = Decision(False, estimate, limit, retry_after)
            elif count.unchecked <= int(limit * SLACK):
                decision = Decision(True, estimate, limit, retry_after)
            else:  # past this process's slack: write the hits and decide on the shared count
                decision = None
                hits, count.pending, count.unchecked = count.pending, 0, 0
        if decision is not None:
            if due:
                self.flush()
            return decision
        try:
            if hits == 1:  # limits without slack: decided exactly, one conditional write
                allowed, total = self._take_one(doc_id, limit, count.expires_at)
            else:
                total = self._add(doc_id, hits, count.expires_at)
                allowed = total <= limit
        except PyMongoError:
            with self._lock:
                count.pending += hits  # still to be written
            raise
        with self._lock:
            if total is None:  # taken: the count is ours plus whatever it was
                count.known += 1
            else:
                count.known = max(count.known, total)
            if not allowed and hits == 1:
                count.pending += 1  # refused without a write: counted with the next flush
        if due:
            self.flush()
        return Decision(allowed, total if total is not None else count.known, limit, retry_after)

    def flush(self) -> None:
        """Write every count held here in one bulk write, and forget windows that are over."""
        current = int(self.clock() // self.window)
        with self._lock:
            self._flushed_at = time.monotonic()
            batch = {doc_id: c for doc_id, c in self._counts.items() if c.pending}
            writes = {doc_id: (c, c.pending) for doc_id, c in batch.items()}
            for c in batch.values():
                # Written, not read: what other processes counted is still unknown, so
                # ``unchecked`` stays as it is and the slack is not renewed by a flush.
                c.known, c.pending = c.known + c.pending, 0
            self._counts = {doc_id: c for doc_id, c in self._counts.items() if c.window >= current}
        if not writes:
            return
        ops = [
            UpdateOne(
                {"_id": doc_id}, {"$inc": {"count": hits}, "$setOnInsert": {"expires_at": c.expires_at}}, upsert=True
            )
            for doc_id, (c, hits) in writes.items()
        ]
        for _ in range(3):
            try:
                # Another process inserted one of these documents first: those upserts (only) go again.
                ops = [ops[i] for i in sorted(write_unordered(self.collection, ops))]
                if not ops:
                    return
            except PyMongoError as e:
                return self._lost(e)

    @staticmethod
    def _lost(error: PyMongoError) -> None:
        # Counts lost to an outage only ever let a little more through; never fail a request for it.
        log.warning("rate limit counts not written: database unavailable", extra={"error": repr(error)[:300]})

    def _take_one(self, doc_id: str, limit: int, expires_at: dt.datetime) -> tuple[bool, int | None]:
        """Count one hit only if the window has room: (allowed, the count if it was read).

        One conditional upsert decides it: it matches the window's document only
        while its count is under the limit, and creates it on the window's first
        hit; when the document is full, the upsert collides with it on ``_id``
        (DuplicateKeyError) and the hit is refused. Exact across processes, as
        each hit either takes a place under the limit or finds none, and neither
        ``find_one_and_update`` (a collection scan on the embedded database, see
        qc.mongo.update_and_read) nor a read is needed to allow a request.
        """
        for _ in range(5):
            try:
                self.collection.update_one(
                    {"_id": doc_id, "count": {"$lt": limit}},
                    {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": expires_at}},
                    upsert=True,
                )
                return True, None
            except DuplicateKeyError:
                doc = self.collection.find_one({"_id": doc_id}, {"count": 1})
                if doc is not None and doc["count"] >= limit:
                    return False, int(doc["count"])
                # Two first hits raced to create it (SecantusDB may not show the winner's yet): again.
        raise OperationFailure(f"rate limit document {doc_id} neither taken nor found full")

    def _add(self, doc_id: str, hits: int, expires_at: dt.datetime) -> int:
        """Add ``hits`` to a document atomically; its count afterwards (at least).

        For the hits a process held under its slack (limits of 100 and more).
        An atomic ``$inc``, then a read of the count: not ``find_one_and_update``,
        which the embedded database serves with a scan of the whole collection
        (qc.mongo.update_and_read). The count read back may already include
        other processes' hits made just after ours, so at the very edge of a
        limit two racing requests may both be refused; never is more let through.
        """
        update = {"$inc": {"count": hits}, "$setOnInsert": {"expires_at": expires_at}}
        for _ in range(5):
            try:
                counted = self.collection.update_one({"_id": doc_id}, update, upsert=True)
            except DuplicateKeyError:
                # Two first requests of a window raced to insert; the loser adds to the winner's
                # (SecantusDB has been seen not to show it yet: then nothing was counted; try again).
                counted = self.collection.update_one({"_id": doc_id}, update)
                if not counted.matched_count:
                    continue
            doc = self.collection.find_one({"_id": doc_id}, {"count": 1})
            if doc is not None:
                return int(doc["count"])
        raise OperationFailure(f"rate limit document {doc_id} neither inserted nor found")

    def _digest(self, key: str) -> str:
        return hmac.new(self.secret, key.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:32]
