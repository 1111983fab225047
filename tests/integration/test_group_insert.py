"""qc.mongo over the real database: GroupInsert (the inserts of threads in flight go in one round trip) and
write_unordered (which writes met a stored key)."""

from __future__ import annotations

import threading

import pytest
from pymongo import ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError

from qc.mongo import GroupInsert, write_unordered

pytestmark = pytest.mark.integration


class _HeldFirst:
    """The collection, with its first insert_many held until the test lets it go (so others queue meanwhile)."""

    def __init__(self, collection):
        self.collection = collection
        self.calls: list[int] = []
        self.entered, self.release = threading.Event(), threading.Event()

    def insert_many(self, docs, ordered):
        self.calls.append(len(docs))
        if len(self.calls) == 1:
            self.entered.set()
            assert self.release.wait(10)
        return self.collection.insert_many(docs, ordered=ordered)


def test_inserts_asked_for_while_one_is_written_go_together_and_duplicates_say_so(db):
    db["claims"].insert_one({"_id": "taken"})
    held = _HeldFirst(db["claims"])
    group = GroupInsert(held)
    results: dict[str, bool] = {}
    first = threading.Thread(target=lambda: results.__setitem__("first", group.insert({"_id": "first"})))
    first.start()
    assert held.entered.wait(10)
    ids = [f"d{i}" for i in range(8)] + ["taken"]
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, group.insert({"_id": i}))) for i in ids]
    for t in threads:
        t.start()
    while len(group._queue) < len(ids):  # every one of them is waiting for the first write
        threading.Event().wait(0.01)
    held.release.set()
    for t in [first, *threads]:
        t.join(10)
    assert held.calls == [1, len(ids)]  # one round trip for the eight that came while the first was written
    assert results == {"first": True, "taken": False, **{f"d{i}": True for i in range(8)}}
    assert db["claims"].count_documents({}) == 10


def test_an_unreachable_database_fails_every_insert_of_the_group(db):
    class Down:
        def insert_many(self, docs, ordered):
            from pymongo.errors import ServerSelectionTimeoutError

            raise ServerSelectionTimeoutError("down")

    with pytest.raises(Exception, match="down"):
        GroupInsert(Down()).insert({"_id": "x"})


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
