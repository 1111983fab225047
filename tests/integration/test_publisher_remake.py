"""A producer that keeps failing is replaced: after a broker restart the services publish again by themselves.

An idempotent kafka-python producer can stay in a fatal state once the broker
has forgotten its producer id (the embedded broker forgets everything on a
restart). Here the first producer points at a port where nothing listens,
which fails the same way from the publisher's side; the replacement points at
the real broker.
"""

from __future__ import annotations

import socket
import uuid

import pytest

from qc import events, signing
from qc.kafka import Publisher, PublishError, make_producer
from qc.settings import TOPICS
from tests.conftest import read_topic

pytestmark = pytest.mark.integration


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again at once: nothing listens there


def _event(settings):
    return signing.sign(
        settings.secret_key,
        events.make_event(
            "org.qc.directory.changed",
            source="qc/tests",
            subject=f"R-{uuid.uuid4().hex[:6]}",
            data={"entity": "region", "id": "R-remake", "active": True, "name": "Remade"},
        ),
    )


def test_a_publisher_that_keeps_failing_remakes_its_producer_and_publishes_again(settings):
    dead = settings.replace(kafka_bootstrap=f"127.0.0.1:{_dead_port()}", kafka_ack_timeout_seconds=0.5)
    made = []

    def remake():
        made.append(1)
        return make_producer(settings, "qc-tests-remade")

    publisher = Publisher(make_producer(dead, "qc-tests-dead"), source="qc/tests", timeout=10, remake=remake)
    publisher.REMAKE_AFTER_SECONDS = 0.0  # the rule under test, without waiting for it
    try:
        with pytest.raises(PublishError):
            publisher.publish_sync(TOPICS["directory"], "k", _event(settings))
        assert made == []  # one failure is not enough: the broker may just be slow
        with pytest.raises(PublishError):
            publisher.publish_sync(TOPICS["directory"], "k", _event(settings))
        assert made == [1] and publisher.remade == 1

        event = _event(settings)
        publisher.publish_sync(TOPICS["directory"], "k", event)  # the new producer reaches the broker
        assert made == [1]
        seen = read_topic(settings, TOPICS["directory"], lambda evs: any(e["id"] == event["id"] for e in evs))
        assert any(e["id"] == event["id"] for e in seen)
    finally:
        publisher.close()


def test_without_a_remake_the_producer_is_kept(settings):
    dead = settings.replace(kafka_bootstrap=f"127.0.0.1:{_dead_port()}", kafka_ack_timeout_seconds=0.5)
    producer = make_producer(dead, "qc-tests-dead")
    publisher = Publisher(producer, source="qc/tests", timeout=1)
    publisher.REMAKE_AFTER_SECONDS = 0.0
    for _ in range(3):
        with pytest.raises(PublishError):
            publisher.publish_sync(TOPICS["directory"], "k", _event(settings))
    assert publisher.producer is producer and publisher.remade == 0
    producer.close(timeout=0)
