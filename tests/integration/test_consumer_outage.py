"""A real ConsumerLoop meeting a database outage: it waits, commits nothing, dead-letters nothing, then catches up."""

from __future__ import annotations

import threading
import uuid

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client import REGISTRY
from pymongo import MongoClient
from pymongo.errors import (
    AutoReconnect,
    CursorNotFound,
    DuplicateKeyError,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    ServerSelectionTimeoutError,
)

from qc import events, mongo, signing
from qc.consumer import ConsumerLoop
from qc.failures import is_transient
from qc.handler import Handler
from qc.kafka import Publisher, PublishError, make_consumer, make_producer
from qc.settings import TOPICS
from qc_tools.devstack import free_port
from tests.conftest import new_topic, wait_for
from tests.e2e.crash_tools import read_all

pytestmark = pytest.mark.integration


class StoreUnavailable(Exception):
    """A domain error a store might raise for a driver error (``raise … from e``)."""


def _translated(error: Exception) -> Exception:
    try:
        try:
            raise error
        except Exception as e:
            raise StoreUnavailable("could not store") from e
    except StoreUnavailable as wrapped:
        return wrapped


@pytest.mark.parametrize(
    "error",
    [
        AutoReconnect("connection closed"),
        NetworkTimeout("timed out"),
        ServerSelectionTimeoutError("no servers"),
        NotPrimaryError("node is shutting down"),
        CursorNotFound("cursor id not found", 43),
        PublishError("no acknowledgement"),
        _translated(ServerSelectionTimeoutError("no servers")),
    ],
    ids=lambda e: type(e).__name__,
)
def test_infrastructure_errors_are_transient(error):
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        KeyError("site_id"),
        ValueError("bad date"),
        DuplicateKeyError("E11000"),
        OperationFailure("bad query", 2),
        _translated(KeyError("x")),
    ],
    ids=lambda e: type(e).__name__,
)
def test_faults_of_the_event_are_not(error):
    assert not is_transient(error)


class _Store(Handler):
    """Stores each event's id in a real database (one that may be unreachable), translating driver errors."""

    def __init__(self, topic: str, db):
        self.topics = [topic]
        self.db = db
        self.attempts = 0

    def handle(self, batch):
        self.attempts += 1
        try:
            for d in batch:
                self.db["seen"].update_one({"_id": d.event["id"]}, {"$inc": {"times": 1}}, upsert=True)
        except ServerSelectionTimeoutError as e:
            raise StoreUnavailable("could not store") from e


def _committed(settings, group: str, topic: str) -> int:
    """How many events of ``topic`` the group has committed, over all its partitions."""
    probe = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="qc-tests")
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(probe.partitions_for_topic(topic) or ())]
        offsets = admin.list_group_offsets({group: partitions}).get(group, {})
    finally:
        admin.close()
        probe.close()
    return sum(o.offset for o in offsets.values() if o is not None and o.offset > 0)


def _ready(group: str) -> float | None:
    return REGISTRY.get_sample_value("qc_consumer_ready", {"group": group})


def test_the_loop_waits_out_a_database_outage(stack, settings, db):
    topic = new_topic(settings, "qc.test.outage")
    sent = []
    raw = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    for i in range(3):
        event = events.make_event(
            "org.qc.directory.changed",
            source="t",
            subject=f"R{i}",
            data={"entity": "region", "id": f"R{i}", "active": True, "name": "R"},
        )
        event = signing.sign(settings.secret_key, event)  # a directory event is applied only when signed
        sent.append(event["id"])
        raw.send(topic, key=b"k", value=events.encode(event)).get(timeout=10)
    raw.close()
    # A database nobody listens on: the driver's real ServerSelectionTimeoutError, quickly.
    down = MongoClient(f"mongodb://127.0.0.1:{free_port()}/?directConnection=true", serverSelectionTimeoutMS=200)
    group = f"qc-test-outage-{uuid.uuid4().hex[:6]}"
    handler = _Store(topic, down["qc"])
    publisher = Publisher(make_producer(settings, "qc-tests"), source="qc/tests", timeout=10)
    loop = ConsumerLoop(settings, make_consumer(settings, group), group, handler, publisher)
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        wait_for(lambda: handler.attempts >= 3, 60, "the batch to be tried again after the back-off")
        assert _ready(group) == 0.0, "not ready while the database is down"
        assert _committed(settings, group, topic) == 0, "offsets committed for events not stored"
        handler.db = mongo.connect(settings, "qc-tests")  # the database is back
        wait_for(lambda: db["seen"].count_documents({}) == 3, 60, "the events to be stored once it is back")
        wait_for(lambda: _committed(settings, group, topic) == 3, 30, "the offsets to be committed")
        assert _ready(group) == 1.0
    finally:
        loop.stop()
        thread.join(timeout=30)
        publisher.close()
        down.close()
        handler.db.client.close()
    assert sorted(d["_id"] for d in db["seen"].find()) == sorted(sent)
    assert {d["times"] for d in db["seen"].find()} == {1}
    letters = [e for e in read_all(settings, TOPICS["deadletter"]) if e["data"]["topic"] == topic]
    assert letters == [], "an outage is no reason to dead-letter an event"
