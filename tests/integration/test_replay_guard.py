"""A replay never destroys history: it refuses when the log no longer holds everything stored."""

from __future__ import annotations

import os
import uuid

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from pymongo.errors import AutoReconnect

from qc import events, mongo
from qc.settings import TOPICS
from services.aggregate.jobs import replay
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.rollups import RollupStore
from services.aggregate.worker import AggregateHandler
from tests import builders
from tests.conftest import new_topic, run_qc

pytestmark = pytest.mark.integration


def _snapshot(db) -> dict:
    return {name: sorted(map(str, db[name].find())) for name in ("agg_facts", "agg_rollups")}


def test_a_replay_refuses_when_a_stored_check_is_no_longer_in_the_log(stack, settings):
    db = mongo.connect(settings, "qc-tests")
    try:
        store = RollupStore(db)
        store.ensure_indexes()
        handler = AggregateHandler(store, SiteDirectory(db), publisher=None)
        on_log = builders.validated(site=f"S-{uuid.uuid4().hex[:6]}")
        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        producer.send(TOPICS["validated"], key=b"k", value=events.encode(on_log)).get(timeout=10)
        producer.close()
        # This one was counted live, but its event has since left the log (retention).
        gone = builders.validated(site=on_log["data"]["site_id"], urgent_concern=None, working=["The garden"])
        handler.handle(builders.deliveries(on_log, gone))
        before = _snapshot(db)
        assert len(before["agg_facts"]) == 2

        env = {**os.environ, **stack.env, "QC_MONGO_DB": settings.mongo_db}
        result = run_qc(env, "replay", "--from-start", timeout=300)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "replay refused: 1 checks stored now are no longer in qc.submissions.validated" in result.stderr
        assert "Nothing was changed" in result.stderr
        assert _snapshot(db) == before  # the only copy of "The garden" is still there
        assert not [n for n in db.list_collection_names() if n.startswith("agg_replay_")]
        assert db["agg_control"].find_one({"_id": "replay"})["pause"] is False  # live workers resumed
    finally:
        db.client.drop_database(settings.mongo_db)
        db.client.close()


def test_a_replay_refuses_when_the_log_no_longer_starts_at_offset_zero(stack, settings):
    topic = new_topic(settings, "qc.test.trimmed")
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        for n in range(3):
            producer.send(topic, value=b"%d" % n, partition=0).get(timeout=10)
        tp = TopicPartition(topic, 0)
        try:
            admin.delete_records({tp: 2})  # what retention does to old segments
        except Exception as e:  # the broker may not implement DeleteRecords
            pytest.skip(f"this broker cannot delete records: {type(e).__name__}")
        with pytest.raises(replay.ReplayError, match=r"no longer starts at offset 0 on partition\(s\) \[0\]"):
            replay._check_log_starts_at_zero(consumer, [tp])
    finally:
        consumer.close()
        producer.close()
        admin.close()


class _Outage:
    """A handler whose database has gone away."""

    def handle(self, batch):
        raise AutoReconnect("connection refused")


def test_an_outage_stops_the_replay_instead_of_counting_events_skipped():
    batch = builders.deliveries(builders.validated(), builders.validated())
    with pytest.raises(AutoReconnect):
        replay._apply(_Outage(), batch)


class _TrimmedLog:
    """Offsets as Apache Kafka reports them once retention has removed a partition's first segments
    (Tansu, the embedded broker, has no retention and no DeleteRecords: the test above skips there)."""

    def beginning_offsets(self, partitions):
        return {tp: (1200 if tp.partition == 3 else 0) for tp in partitions}


def test_the_offset_check_names_each_trimmed_partition():
    partitions = [TopicPartition(TOPICS["validated"], p) for p in range(6)]
    with pytest.raises(replay.ReplayError, match=r"partition\(s\) \[3\]"):
        replay._check_log_starts_at_zero(_TrimmedLog(), partitions)
    replay._check_log_starts_at_zero(_TrimmedLog(), partitions[:3])  # whole partitions pass
