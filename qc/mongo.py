"""MongoDB access: one client per process, built by the caller and passed in."""

from __future__ import annotations

import threading

from pymongo import InsertOne, MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, ClientBulkWriteException, DuplicateKeyError

from qc.settings import Settings


def connect(settings: Settings, app_name: str) -> Database:
    """The ``qc`` database; the client connects lazily and fails fast when down."""
    client = MongoClient(
        settings.mongo_uri,
        appname=app_name,
        # Bounded waits: with the database down an operation fails within
        # mongo_timeout_ms (ConnectionFailure), so web answers 503 and workers
        # back off, instead of hanging (pymongo's defaults: 30 s, and none).
        serverSelectionTimeoutMS=settings.mongo_timeout_ms,
        connectTimeoutMS=settings.mongo_timeout_ms,
        socketTimeoutMS=settings.mongo_socket_timeout_ms or None,
        tz_aware=True,
    )
    return client[settings.mongo_db]


def ping(db: Database) -> None:
    """Raise if the server cannot be reached."""
    db.client.admin.command("ping")


def update_and_read(collection: Collection, query: dict, update: dict, read: dict | None = None) -> dict | None:
    """``update_one`` the document matching ``query``, then read it back; None if nothing matched.

    In place of ``find_one_and_update`` on hot paths: SecantusDB (the embedded
    database) answers a findAndModify that finds its document by re-checking the
    filter under ``$and``, which it serves with a scan of the whole collection
    (30 a second at 5,000 documents, against 1,200 for ``update_one``;
    docs/benchmarks.md, fifth round). ``update_one`` and ``find_one`` are index
    look-ups there and on MongoDB. The read is not atomic with the write: the
    document returned may already carry someone else's later change, so callers
    must only need "it matched, and this is how it is now". ``read`` is the
    filter to read back with; by default the ``_id`` of ``query``.
    """
    if collection.update_one(query, update).matched_count == 0:
        return None
    return collection.find_one(read if read is not None else {"_id": query["_id"]})


DUPLICATE_KEY = 11000


def write_unordered(collection: Collection, writes: list) -> set[int]:
    """Run ``writes`` (documents to insert, or bulk operations) unordered; the indexes of those that met a
    stored unique key (the first write stands), the others all done. Any other failure is raised."""
    if not writes:
        return set()
    try:
        if isinstance(writes[0], dict):
            collection.insert_many(writes, ordered=False)
        else:
            collection.bulk_write(writes, ordered=False)
    except BulkWriteError as e:
        return duplicate_indexes(e)
    return set()


def keep_latest(collection: Collection, doc: dict, field: str = "at") -> bool:
    """Store ``doc`` (by ``_id``) unless a later one, by ``field``, is stored already; True if stored.

    For a read model fed by events: events of one key arrive in order, but a redelivery or a replay may
    bring an older one again after a newer, which must not win."""
    if collection.replace_one({"_id": doc["_id"], field: {"$lte": doc[field]}}, doc).matched_count:
        return True
    try:
        collection.insert_one(doc)
    except DuplicateKeyError:
        return False  # a later one is kept already
    return True


def duplicate_indexes(error: BulkWriteError) -> set[int]:
    """The indexes of a bulk write's operations that failed on a duplicate key; ``error`` itself is raised if
    anything else went wrong (another write error, or a write concern error: what was written is not known)."""
    errors = error.details.get("writeErrors", [])
    if error.details.get("writeConcernErrors") or any(err.get("code") != DUPLICATE_KEY for err in errors):
        raise error
    return {err["index"] for err in errors}


# SecantusDB matches an ``$in`` list in time that grows with the square of its length
# (0.12 ms a key at 100 keys, 0.52 at 500): longer lists are asked in parts of this size.
IN_LIST_MAX = 100


def find_in(collection: Collection, field: str, values, query: dict | None = None, projection: dict | None = None):
    """Documents whose ``field`` is one of ``values`` (and that match ``query``), asked ``IN_LIST_MAX`` at a time."""
    ordered = sorted(set(values))
    for start in range(0, len(ordered), IN_LIST_MAX):
        yield from collection.find({**(query or {}), field: {"$in": ordered[start : start + IN_LIST_MAX]}}, projection)


class GroupInsert:
    """Inserts for many threads at once: the inserts asked for while one group is being written go together.

    Each caller inserts one or more documents, each into its own collection (the
    intake's claim and the event it keeps). The first caller writes what is
    queued in one round trip, an unordered MongoDB 8 ``bulkWrite`` across the
    collections (``MongoClient.bulk_write``); callers arriving meanwhile queue
    up and the next of them writes their group. Nobody waits for a timer: under
    one request at a time it is one insert command; under load, one round trip
    serves the requests in flight (SecantusDB: about 0.6 ms a command plus 0.05
    to 0.15 a document; docs/benchmarks.md, eleventh round).
    """

    def __init__(self, client: MongoClient):
        self.client = client
        self._cond = threading.Condition()
        self._queue: list[_Slot] = []
        self._writing = False

    def insert(self, *docs: tuple[Collection, dict]) -> list[bool]:
        """For each (collection, document): True when inserted, False when its ``_id`` was there already.

        Any other failure of one of them is raised (the others may have been written)."""
        slot = _Slot(docs)
        with self._cond:
            self._queue.append(slot)
            while not slot.done:
                if self._writing:
                    self._cond.wait()
                    continue
                group, self._queue, self._writing = self._queue, [], True
                self._cond.release()
                try:
                    self._write(group)
                finally:
                    self._cond.acquire()
                    for written in group:
                        written.done = True
                    self._writing = False
                    self._cond.notify_all()
        if slot.error is not None:
            raise slot.error
        return slot.inserted

    def _write(self, group: list[_Slot]) -> None:
        # Each slot is marked done only once its outcome is known (under the lock, in ``insert``'s finally).
        ops, owners = [], []
        for slot in group:
            slot.inserted = [True] * len(slot.docs)
            for i, (collection, doc) in enumerate(slot.docs):
                ops.append(InsertOne(doc, namespace=collection.full_name))
                owners.append((slot, i))
        try:
            self.client.bulk_write(ops, ordered=False)
        except ClientBulkWriteException as e:
            if e.error is not None or e.write_concern_errors:
                for slot in group:
                    slot.error = e
            for error in e.write_errors:
                slot, i = owners[error["idx"]]
                slot.inserted[i] = False
                if error.get("code") != DUPLICATE_KEY:
                    slot.error = e
        except Exception as e:  # the database is unreachable (or its answer was lost): every caller is told so
            for slot in group:
                slot.error = e


class _Slot:
    __slots__ = ("docs", "done", "inserted", "error")

    def __init__(self, docs: tuple[tuple[Collection, dict], ...]):
        self.docs, self.done, self.inserted, self.error = docs, False, [], None
