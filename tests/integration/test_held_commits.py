"""A handler that holds state in memory commits only after writing it (qc/consumer.py, ``Handler.holds``).

As Kafka Streams commits its state stores' caches: the consumer loop commits
every batch at once unless the handler holds effects in memory; then it asks
for ``flush`` at most every ``commit_interval_ms`` and commits right after,
so an offset is never committed past an effect that exists only in memory.
Over the real broker; offsets read back with the group's own committed call.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from qc import events, signing
from qc.consumer import ConsumerLoop
from qc.handler import Handler
from qc.kafka import make_consumer
from tests.conftest import new_topic, wait_for

pytestmark = pytest.mark.integration


class _Holding(Handler):
    """Keeps what it handles in memory until flushed; notes the group's committed offset at each flush."""

    def __init__(self, topic: str, committed_offset):
        self.topics = [topic]
        self.held: list[str] = []
        self.written: list[str] = []
        self.committed_at_flush: list[int] = []
        self.commits = 0
        self._committed_offset = committed_offset

    def handle(self, batch):
        self.held += [d.event["id"] for d in batch]

    def holds(self) -> bool:
        return bool(self.held)

    def flush(self) -> None:
        self.committed_at_flush.append(self._committed_offset())
        self.written += self.held
        self.held = []

    def committed(self) -> None:
        self.commits += 1


def _send(settings, topic: str, count: int) -> list[str]:
    raw = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    ids = []
    for n in range(count):
        event = events.make_event(
            "org.qc.directory.changed",
            source="t",
            subject=f"R{n}",
            data={"entity": "region", "id": f"R{n}", "active": True, "name": "R"},
        )
        raw.send(topic, key=b"k", value=events.encode(signing.sign(settings.secret_key, event))).get(timeout=10)
        ids.append(event["id"])
    raw.close()
    return ids


def _committed_reader(settings, group: str, topic: str):
    probe = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False)

    def committed() -> int:
        return sum(probe.committed(TopicPartition(topic, p)) or 0 for p in probe.partitions_for_topic(topic))

    return probe, committed


def _run(settings, topic: str, interval_ms: int):
    group = f"qc-test-{uuid.uuid4().hex[:6]}"
    probe, committed = _committed_reader(settings, group, topic)
    handler = _Holding(topic, committed)
    loop_settings = dataclasses.replace(settings, commit_interval_ms=interval_ms)
    loop = ConsumerLoop(loop_settings, make_consumer(loop_settings, group), group, handler, _NoPublisher())
    thread = threading.Thread(target=loop.run)
    thread.start()
    return loop, thread, handler, probe, committed


class _NoPublisher:
    def flush(self):
        pass


def test_what_is_held_is_written_before_its_offsets_are_committed(settings):
    topic = new_topic(settings, "qc.test-held")
    sent = _send(settings, topic, 5)
    loop, thread, handler, probe, committed = _run(settings, topic, interval_ms=400)
    try:
        wait_for(lambda: sorted(handler.written) == sorted(sent), 30, "every event written by a flush")
        wait_for(lambda: committed() == len(sent), 30, "the offsets committed after the flush")
        # Each flush came before the commit of what it wrote: the group had not committed these yet.
        assert handler.committed_at_flush[0] < len(sent)
        held_before = len(handler.committed_at_flush)
        more = _send(settings, topic, 3)
        wait_for(lambda: set(more) <= set(handler.written), 30, "the next events written by a flush")
        wait_for(lambda: committed() == len(sent) + len(more), 30, "their offsets committed")
        assert len(handler.committed_at_flush) > held_before
        assert all(at < len(sent) + len(more) for at in handler.committed_at_flush[held_before:])
    finally:
        loop.stop()
        thread.join(timeout=30)
        probe.close()
    assert handler.held == []


def test_held_state_waits_for_the_interval_and_is_written_when_the_worker_stops(settings):
    topic = new_topic(settings, "qc.test-held")
    sent = _send(settings, topic, 4)
    loop, thread, handler, probe, committed = _run(settings, topic, interval_ms=600_000)  # never due while running
    try:
        wait_for(lambda: sorted(handler.held) == sorted(sent), 30, "every event handled and held")
        # Polls go on (and would commit a handler that holds nothing): nothing held is committed or written.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            assert committed() == 0 and handler.written == []
            time.sleep(0.1)
    finally:
        loop.stop()
        thread.join(timeout=30)
    try:
        assert sorted(handler.written) == sorted(sent)  # written on the way out...
        assert committed() == len(sent)  # ...then committed
    finally:
        probe.close()
