"""Baseline: how many writes a second the database serves, in a process of its own.

Single writes: sixteen threads (as many as wrk's connections to the intake) upsert documents by
``_id`` into a scratch database, for a few seconds: the ceiling for the intake's one write per
request. Batched writes, the way the workers now write once per poll: ``insert_many`` of 500
small documents, and a bulk ``ReplaceOne`` by ``_id`` of 500 stored ones (documents a second).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import threading
import time

from pymongo import MongoClient, ReplaceOne


def main() -> None:
    """``python -m bench.rawdb --uri URI [--threads 16] [--seconds 5]``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--uri", required=True)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    client = MongoClient(args.uri, maxPoolSize=args.threads)
    collection = client["bench_ceiling"]["writes"]
    collection.insert_one({"_id": "warm"})
    done = [0] * args.threads
    stop_at = time.monotonic() + args.seconds

    def write(n: int) -> None:
        i = 0
        while time.monotonic() < stop_at:
            collection.update_one({"_id": f"{n}:{i % 1500}"}, {"$inc": {"count": 1}}, upsert=True)
            i += 1
        done[n] = i

    started = time.monotonic()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    batched = _batched(client["bench_ceiling"]["batched"], args.seconds)
    client.drop_database("bench_ceiling")
    client.close()
    print(json.dumps({"writes": sum(done), "seconds": seconds, "rate": sum(done) / seconds, **batched}))


def _batched(collection, seconds: float, size: int = 500) -> dict:
    """Documents a second by insert_many(size), then by bulk ReplaceOne of the same documents by _id."""
    doc = {"site_id": "S0001", "checks": 1, "questions": {f"q{i}": {"good": 1, "ok": 0} for i in range(12)}}
    inserted, stop_at, started = 0, time.monotonic() + seconds / 2, time.monotonic()
    while time.monotonic() < stop_at:
        collection.insert_many([{**doc, "_id": f"d{inserted + i}"} for i in range(size)], ordered=False)
        inserted += size
    insert_rate = inserted / (time.monotonic() - started)
    replaced, stop_at, started = 0, time.monotonic() + seconds / 2, time.monotonic()
    while time.monotonic() < stop_at:
        first = replaced % max(inserted - size, 1)
        ops = [ReplaceOne({"_id": f"d{first + i}"}, {**doc, "checks": 2}, upsert=True) for i in range(size)]
        collection.bulk_write(ops, ordered=False)
        replaced += size
    return {"insert_many_rate": insert_rate, "bulk_replace_rate": replaced / (time.monotonic() - started)}


if __name__ == "__main__":
    main()
