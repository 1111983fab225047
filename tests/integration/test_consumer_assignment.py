"""A real ConsumerLoop told by a real broker which partitions it holds: whether it holds all of them is settled
on the loop's own thread, never in the rebalance callback (where a blocking metadata call fails the rebalance)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid

import pytest
from kafka import KafkaProducer

from qc import events, signing
from qc.consumer import ConsumerLoop
from qc.handler import Handler
from qc.kafka import Publisher, make_consumer, make_producer
from tests.conftest import new_topic, wait_for

pytestmark = pytest.mark.integration


class _Recorder(Handler):
    """Remembers what the loop told it: each ``partitions_changed`` and each event handled."""

    def __init__(self, topics: list[str]):
        self.topics = topics
        self.changes: list[bool] = []
        self.handled: list[str] = []

    def handle(self, batch):
        self.handled.extend(d.event["id"] for d in batch)

    def partitions_changed(self, owns_all: bool) -> None:
        self.changes.append(owns_all)


@contextlib.contextmanager
def _running(settings, handler: Handler):
    """A real ConsumerLoop of a new group on its own thread, stopped at the end."""
    group = f"qc-test-assign-{uuid.uuid4().hex[:6]}"
    publisher = Publisher(make_producer(settings, "qc-tests"), source="qc/tests", timeout=10)
    loop = ConsumerLoop(settings, make_consumer(settings, group), group, handler, publisher)
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        yield loop
    finally:
        loop.stop()
        thread.join(timeout=30)
        publisher.close()


def _run(settings, handler: Handler, until, what: str):
    with _running(settings, handler):
        wait_for(until, 60, what)


def _send(settings, topic: str) -> str:
    event = events.make_event(
        "org.qc.directory.changed",
        source="t",
        subject="R1",
        data={"entity": "region", "id": "R1", "active": True, "name": "R"},
    )
    event = signing.sign(settings.secret_key, event)  # a directory event is read only when signed
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    try:
        producer.send(topic, key=b"k", value=events.encode(event)).get(timeout=10)
    finally:
        producer.close()
    return event["id"]


def test_a_lone_member_learns_it_reads_every_partition(stack, settings, caplog):
    topic = new_topic(settings, "qc.test.assign", partitions=3)
    handler = _Recorder([topic])
    with caplog.at_level(logging.ERROR, logger="kafka"):
        _run(settings, handler, lambda: True in handler.changes, "the loop to say this member holds all 3 partitions")
    assert not [r for r in caplog.records if "rebalance listener" in r.getMessage()], "the rebalance callback failed"


def test_a_topic_the_client_knows_nothing_of_does_not_fail_the_rebalance(stack, settings, caplog):
    """Its partitions are not in the client's metadata, so finding them waits on the network: not in the callback."""
    topic = new_topic(settings, "qc.test.assign", partitions=2)
    sent = _send(settings, topic)
    handler = _Recorder([topic, f"qc.test.never-made.{uuid.uuid4().hex[:8]}"])
    with caplog.at_level(logging.ERROR, logger="kafka"):
        _run(settings, handler, lambda: sent in handler.handled, "the event to be handled after the assignment")
    assert not [r for r in caplog.records if "rebalance listener" in r.getMessage()], "the rebalance callback failed"
    assert handler.changes, "the handler was told of the assignment"


def test_a_member_whose_join_never_ends_leaves_and_joins_again(stack, settings, caplog):
    """kafka-python has hung in a rejoin, holding no partition for good: past the limit the loop joins anew."""
    topic = new_topic(settings, "qc.test.assign", partitions=2)
    handler = _Recorder([topic])
    with _running(settings, handler) as loop:
        wait_for(lambda: True in handler.changes, 60, "the first assignment")
        assigned_before = len(handler.changes)
        listener = loop._listener
        with caplog.at_level(logging.WARNING, logger="qc.consumer"):
            # As if a rebalance had begun long ago and never ended.
            listener.joining_since = time.monotonic() - listener.rejoin_after - 1
            wait_for(
                lambda: [r for r in caplog.records if "joining the group again" in r.getMessage()],
                30,
                "the loop to leave and join again",
            )
        wait_for(lambda: listener.joining_since is None, 60, "the new join to end in an assignment")
        assert len(handler.changes) > assigned_before, "the handler was told of the new assignment"
        sent = _send(settings, topic)
        wait_for(lambda: sent in handler.handled, 60, "an event sent after the rejoin to be handled")
