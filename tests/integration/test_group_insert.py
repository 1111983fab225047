"""qc.mongo.GroupInsert over the real database: the inserts of threads in flight go in one round trip."""

from __future__ import annotations

import threading

import pytest

from qc.mongo import GroupInsert

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
