"""qc.mongo over the real database: GroupInsert (the inserts of threads in flight, into any collections, go in one
round trip) and write_unordered (which writes met a stored key)."""

from __future__ import annotations

import threading

import pytest
from pymongo import ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError, ClientBulkWriteException

from qc.mongo import GroupInsert, write_unordered

pytestmark = pytest.mark.integration


class _HeldFirst:
    """The client, with its first bulk write held until the test lets it go (so others queue meanwhile)."""

    def __init__(self, client):
        self.client = client
        self.calls: list[list[str]] = []  # the namespaces of each round trip's inserts
        self.entered, self.release = threading.Event(), threading.Event()

    def bulk_write(self, ops, ordered):
        self.calls.append([op._namespace for op in ops])
        if len(self.calls) == 1:
            self.entered.set()
            assert self.release.wait(10)
        return self.client.bulk_write(ops, ordered=ordered)


def test_inserts_asked_for_while_one_is_written_go_together_and_duplicates_say_so(db):
    claims, kept = db["claims"], db["kept"]
    claims.insert_one({"_id": "taken"})
    held = _HeldFirst(db.client)
    group = GroupInsert(held)
    results: dict[str, list[bool]] = {}

    def insert(name):
        results[name] = group.insert((claims, {"_id": name}), (kept, {"_id": name}))

    first = threading.Thread(target=insert, args=("first",))
    first.start()
    assert held.entered.wait(10)
    ids = [f"d{i}" for i in range(8)] + ["taken"]
    threads = [threading.Thread(target=insert, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    while len(group._queue) < len(ids):  # every one of them is waiting for the first write
        threading.Event().wait(0.01)
    held.release.set()
    for t in [first, *threads]:
        t.join(10)
    # One round trip for the first caller's two documents, one for the nine callers that came meanwhile.
    assert held.calls == [[f"{db.name}.claims", f"{db.name}.kept"], [f"{db.name}.claims", f"{db.name}.kept"] * 9]
    # Each caller hears about each of its documents: "taken" met a stored key in one collection only.
    assert results == {"first": [True, True], "taken": [False, True], **{f"d{i}": [True, True] for i in range(8)}}
    assert claims.count_documents({}) == 10 and kept.count_documents({}) == 10


def test_an_unreachable_database_fails_every_insert_of_the_group(db):
    class Down:
        def bulk_write(self, ops, ordered):
            from pymongo.errors import ServerSelectionTimeoutError

            raise ServerSelectionTimeoutError("down")

    with pytest.raises(Exception, match="down"):
        GroupInsert(Down()).insert((db["claims"], {"_id": "x"}))


def test_a_failure_other_than_a_duplicate_is_raised_to_its_caller(db):
    """A document refused for another reason (here by a validator) fails its caller, not as "there already"."""
    db.create_collection("strict", validator={"n": {"$type": "int"}})
    with pytest.raises(ClientBulkWriteException):
        GroupInsert(db.client).insert((db["claims"], {"_id": "y"}), (db["strict"], {"_id": "y", "n": "text"}))
    assert db["claims"].find_one({"_id": "y"}) is not None  # unordered: the other went in (the caller releases it)


def test_unordered_writes_say_which_met_a_stored_key_and_raise_anything_else(db):
    """qc.mongo.write_unordered: the one place a duplicate key is told from a real failure."""
    db["firsts"].insert_one({"_id": "b", "n": 1})
    assert write_unordered(db["firsts"], [{"_id": "a"}, {"_id": "b", "n": 2}, {"_id": "c"}]) == {1}
    assert db["firsts"].find_one({"_id": "b"})["n"] == 1  # the first write stands; the others went in
    assert {d["_id"] for d in db["firsts"].find()} == {"a", "b", "c"}
    # Bulk operations too: an upsert whose filter matches nothing collides with the stored _id.
    ops = [ReplaceOne({"_id": "a", "n": 5}, {"n": 6}, upsert=True), UpdateOne({"_id": "d"}, {"$set": {"n": 1}}, True)]
    assert write_unordered(db["firsts"], ops) == {0}
    assert write_unordered(db["firsts"], []) == set()
    # Anything but a duplicate key is raised (here adding to a text: a type mismatch).
    db["firsts"].insert_one({"_id": "text", "n": "words"})
    with pytest.raises(BulkWriteError):
        write_unordered(db["firsts"], [UpdateOne({"_id": "text"}, {"$inc": {"n": 1}}), ops[0]])  # with a duplicate
