"""Baseline: how many single-document writes a second the database serves, in a process of its own.

Sixteen threads (as many as wrk's connections to the intake) upsert documents by ``_id``, the
cheapest write the services make, into a scratch database, for a few seconds. The figure is the
database's ceiling for small writes on this machine: intake needs about four requests per
submission, so it cannot go faster than a quarter of it. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import threading
import time

from pymongo import MongoClient


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
    client.drop_database("bench_ceiling")
    client.close()
    print(json.dumps({"writes": sum(done), "seconds": seconds, "rate": sum(done) / seconds}))


if __name__ == "__main__":
    main()
