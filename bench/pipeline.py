"""Pipeline phase: a year of weekly checks on ``received``, timed through the real workers to final roll-ups."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

from kafka import KafkaAdminClient, KafkaProducer
from pymongo import MongoClient

from bench import data, stack, usage
from qc.settings import TOPICS

WORKERS = ("checks", "aggregate")  # received -> validated -> roll-ups; notify is measured end to end


def produce(bootstrap: str, items: list[tuple[bytes, bytes]]) -> dict:
    """Put pre-encoded events on ``received`` as fast as kafka-python goes (leader ack, big batches)."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        api_version=(3, 9),
        acks=1,
        linger_ms=20,
        batch_size=512 * 1024,
    )
    started = time.perf_counter()
    for key, value in items:
        producer.send(TOPICS["received"], key=key, value=value)
    producer.flush(timeout=300)
    seconds = time.perf_counter() - started
    producer.close()
    return {"seconds": seconds, "rate": len(items) / seconds, "mb": sum(len(v) for _k, v in items) / 2**20}


def raw_consume(bootstrap: str, count: int) -> dict:
    """The bare consumer baseline in its own process."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.rawconsume", "--bootstrap", bootstrap, "--topic", TOPICS["received"]]
        + ["--count", str(count)],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    return json.loads(out.stdout)


def wait_committed(admin, targets: list[tuple[str, str, int]], timeout: float) -> float:
    """Poll until each (group, topic) has committed ``count``; returns when (epoch s). TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(stack.group_committed(admin, g, t) >= n for g, t, n in targets):
            return time.time()
        time.sleep(0.1)
    seen = {(g, t): stack.group_committed(admin, g, t) for g, t, _n in targets}
    raise TimeoutError(f"not done after {timeout:.0f} s: committed {seen}, wanted {targets}")


def directory_size(s) -> int:
    """How many ``directory.changed`` events the checks worker publishes for the copied directory."""
    client = MongoClient(s.settings.mongo_uri)
    try:
        db = client[s.settings.mongo_db]
        return sum(db[c].count_documents({}) for c in ("regions", "sites", "people"))
    finally:
        client.close()


def drain(admin, count: int, budget: float) -> tuple[float, int, float, int]:
    """Until aggregate has committed all ``count`` validated events, or ``budget`` s.

    Returns (when, how many) for aggregate and the same for the validator (when it was done, if sooner).
    """
    deadline = time.monotonic() + budget
    done = decided = 0
    decided_at = None
    while time.monotonic() < deadline:
        done = stack.group_committed(admin, "qc-aggregate", TOPICS["validated"])
        decided = stack.group_committed(admin, "qc-checks", TOPICS["received"])
        if decided >= count and decided_at is None:
            decided_at = time.time()
        if done >= count and decided >= count:
            break
        time.sleep(0.1)
    now = time.time()
    return now, done, decided_at or now, decided


def measure(root: Path, credentials: dict, count: int, budget: float) -> dict:
    """One size: warm the workers on the directory, stop them, load ``count`` events, time the drain.

    A drain that is not over within ``budget`` seconds is reported for what it did by then.
    """
    s = stack.make_stack(root, f"pipeline-{count}")
    try:
        stack.start(s, root)
        stack.copy_directory(s)
        admin = KafkaAdminClient(bootstrap_servers=s.settings.kafka_bootstrap, api_version=(3, 9))
        # Warm: the checks worker publishes the directory and aggregate reads it, so the timed run
        # below is only submissions; then both stop, as if the year arrived while they were down.
        for service in WORKERS:
            stack.start_worker(s, service)
        wait_committed(admin, [("qc-aggregate", TOPICS["directory"], directory_size(s))], 180)
        for service in WORKERS:
            stack.stop_one(s, f"{service}-worker")
        memory_idle = usage.peak_rss(s)

        items = list(data.year_of_checks(credentials["checkers"], count, dt.date.today()))
        produced = produce(s.settings.kafka_bootstrap, items)
        del items
        raw = raw_consume(s.settings.kafka_bootstrap, count)

        started = time.time()
        window, database = usage.CpuWindow(s), usage.DatabaseWindow(s)
        window.start()
        database.start()
        for service in WORKERS:
            stack.start_worker(s, service)
        finished, done, validator_finished, decided = drain(admin, count, budget)
        cpu, database_use = window.stop(), database.stop()
        joined = max(
            stack.log_time_of(s, f"{w}-worker", "partitions assigned", after=started) or started for w in WORKERS
        )
        memory = usage.peak_rss(s)
        admin.close()
        return {
            "count": count,
            "done": done,
            "produced": produced,
            "raw": raw,
            "total_seconds": finished - started,
            "startup_seconds": joined - started,
            "seconds": finished - joined,
            "rate": done / (finished - joined),
            # The first stage alone: how fast the validator decided (committed) the same events.
            "decided": decided,
            "validator_rate": decided / max(validator_finished - joined, 1e-9),
            "memory": memory,
            "memory_idle": memory_idle,
            "cpu": cpu,
            "database": database_use,
        }
    finally:
        s.stop()
