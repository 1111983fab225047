"""Scaling out: two aggregation workers in one consumer group share the partitions and count every check once."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from pymongo import MongoClient

from qc.settings import TOPICS
from services.aggregate.worker import GROUP, AggregateHandler
from tests.conftest import wait_for
from tests.e2e.own_stack import (
    log_lines,
    metrics_env,
    own_stack,
    publisher_for,
    sample,
    send_validated,
    start_worker,
    validated_event,
    wait_rollups_equal_recount,
)

pytestmark = pytest.mark.e2e
WORKERS = ("aggregate-worker-1", "aggregate-worker-2")
COUNT = 300


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    """A broker of our own, and two aggregation workers in the one group, each with its own metrics."""
    with own_stack(tmp_path_factory.mktemp("scaling")) as stack:
        for name in WORKERS:
            start_worker(stack, name, "aggregate", metrics_env(stack, name))
        yield stack


def _assignments(stack) -> dict[str, list[str]]:
    """Each worker's partitions as its latest rebalance log line states them (none before the first)."""
    held = {}
    for name in WORKERS:
        held[name] = []
        for line in log_lines(stack, name):
            if line.get("message") == "partitions assigned":
                held[name] = line["partitions"]
            elif line.get("message") == "partitions revoked":
                held[name] = []
        if stack.procs[name].poll() is not None:
            pytest.fail(f"{name} exited with {stack.procs[name].returncode}; see {stack.var_dir}/log/{name}.log")
    return held


def _shared(stack):
    """The assignment once every partition of the worker's topics is held, and each worker holds some."""
    held = _assignments(stack)
    partitions = range(stack.settings.topic_partitions)
    every = sorted(f"{topic}/{p}" for topic in AggregateHandler.topics for p in partitions)
    both = sorted(p for parts in held.values() for p in parts)
    return held if all(held.values()) and both == every else None


def test_two_workers_in_one_group_share_the_partitions_and_count_each_check_once(scaled):
    stack = scaled
    # Tansu holds a joining member for about half the session timeout and
    # rebalances for the second one some seconds later (shared/DESIGN.md).
    held = wait_for(lambda: _shared(stack), 60, "both workers to hold partitions between them")

    rng = random.Random(6)
    sent = [validated_event(rng, dt.date.today()) for _ in range(COUNT)]
    publisher = publisher_for(stack)
    try:
        send_validated(publisher, sent)
    finally:
        publisher.close()

    client = MongoClient(stack.settings.mongo_uri)
    try:
        db = client[stack.settings.mongo_db]
        wait_for(lambda: db["agg_facts"].count_documents({}) == COUNT, 60, f"all {COUNT} facts stored")
        # Every roll-up (site, region, organisation; week, month, quarter).
        wait_rollups_equal_recount(db, sent)
    finally:
        client.close()

    # Both processes did part of the work, and no event was handled twice (a
    # batch is counted just after its follow-up events are acknowledged).
    labels = {"group": GROUP, "topic": TOPICS["validated"], "outcome": "processed"}

    def consumed():
        counts = {n: sample(stack.var_dir / "metrics" / n, "qc_events_consumed_total", labels) for n in WORKERS}
        return counts if sum(counts.values()) >= COUNT else None

    counts = wait_for(consumed, 10, f"the workers to count {COUNT} events")
    assert all(n > 0 for n in counts.values()), counts
    assert sum(counts.values()) == COUNT, counts
    assert _assignments(stack) == held, "a rebalance happened while the events were handled"
