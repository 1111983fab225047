"""Scaling out: two aggregation workers in one consumer group share the partitions and count every check once."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal

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


def _assignments(stack, workers=WORKERS) -> dict[str, list[str]]:
    """Each worker's partitions as its latest rebalance log line states them (none before the first)."""
    held = {}
    for name in workers:
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
    # rebalances for the second one some seconds later (docs/architecture.md, Scaling).
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


def test_a_worker_joining_and_one_leaving_mid_stream_count_each_check_once(tmp_path, report):
    """Two rebalances while events wait to be counted: a second worker joins, then the first stops (SIGTERM).

    Partitions move with events in flight, so some are delivered again to their new owner; the roll-ups
    must still equal an independent recount of what was sent.
    """
    every = {f"{topic}/{p}" for topic in AggregateHandler.topics for p in range(6)}
    with own_stack(tmp_path) as stack:
        assert stack.settings.topic_partitions == 6
        first, second = WORKERS
        start_worker(stack, first, "aggregate", metrics_env(stack, first))
        wait_for(lambda: set(_assignments(stack, (first,))[first]) == every, 60, f"{first} to hold every partition")
        rng = random.Random(16)
        # The last share is the largest, so the first worker still has events to count when it leaves.
        sent = [validated_event(rng, dt.date.today()) for _ in range(6 * COUNT)]
        publisher = publisher_for(stack)
        client = MongoClient(stack.settings.mongo_uri)
        db = client[stack.settings.mongo_db]
        try:
            send_validated(publisher, sent[:COUNT])
            start_worker(stack, second, "aggregate", metrics_env(stack, second))
            send_validated(publisher, sent[COUNT : 2 * COUNT])
            at_join = db["agg_facts"].count_documents({})
            wait_for(lambda: all(_assignments(stack).values()), 60, f"{second} to take some partitions")
            send_validated(publisher, sent[2 * COUNT :])
            at_leave = db["agg_facts"].count_documents({})
            os.killpg(stack.procs[first].pid, signal.SIGTERM)  # leaves the group: its partitions move
            stack.procs[first].wait(30)
            wait_for(lambda: set(_assignments(stack, (second,))[second]) == every, 60, f"{second} to hold them all")
            wait_for(lambda: db["agg_facts"].count_documents({}) == len(sent), 90, f"all {len(sent)} facts stored")
            wait_rollups_equal_recount(db, sent)
        finally:
            publisher.close()
            client.close()
        assert stack.procs[first].returncode == 0, "the first worker did not stop cleanly on SIGTERM"
        report(
            f"rebalance mid-stream: {len(sent)} events; a second worker joined with {at_join} counted and the first "
            f"left with {at_leave} counted; every roll-up equals the recount"
        )
