"""The intake's outbox (services/checks/outbox.py) on the real broker and database.

Every check answered 202 is kept before it is published; when the broker's
log goes back, the kept checks are published again with their own ids; once
every consumer group has read past a checkpoint, what was kept before it is
forgotten by dropping whole ten-minute collections. (The embedded broker
really losing its log is tests/e2e/test_supervisor.py.)
"""

from __future__ import annotations

import datetime as dt
import uuid

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata
from prometheus_client import REGISTRY

from qc import events
from qc.settings import TOPICS
from services.checks.outbox import Outbox, OutboxWatch, bucket_end, bucket_of
from tests.conftest import new_topic, read_topic, wait_for


def _body(token_site: str = "S0001") -> dict:
    return {
        "submission_id": str(uuid.uuid4()),
        "site_id": token_site,
        "question_set": {"id": "everyday-life", "version": 1},
        "visited_on": dt.date.today().isoformat(),
        "answers": [{"question_id": "feel-safe", "score": 3, "comment": "", "share": "anonymous"}],
        "working": [],
        "not_working": [],
    }


def _counted(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def _commit(settings, group: str, topic: str, *, whole_log: bool) -> bool:
    """Commit ``group``'s offsets on ``topic`` at the end of every partition; True if that fell short of the log.

    ``whole_log=False`` commits at the ends ListOffsets gives: the embedded broker's stop at the first
    offset of each partition's last batch (short of the end); Apache Kafka's are the end.
    """
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        listed = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, listed[tp])
        while any(consumer.highwater(tp) is None for tp in partitions):
            consumer.poll(timeout_ms=100)
        ends = {tp: max(consumer.highwater(tp), listed[tp]) for tp in partitions}
        chosen = ends if whole_log else listed
        consumer.commit({tp: OffsetAndMetadata(end, "", -1) for tp, end in chosen.items()})
        return chosen != ends
    finally:
        consumer.close()


def test_a_check_answered_202_is_kept_before_it_is_published(checks_app, settings):
    body = _body()
    client = checks_app.test_client()
    answer = client.post("/api/v1/submissions", json=body, headers={"Authorization": f"Bearer {checks_app.token}"})
    assert answer.status_code == 202, answer.get_json()
    outbox = Outbox(checks_app.extensions["qc.checks"].db)
    kept = [d for d in outbox.kept_since(None) if d["_id"] == body["submission_id"]]
    assert len(kept) == 1 and kept[0]["site_id"] == "S0001"
    assert bucket_of(kept[0]["at"]) in outbox.buckets()
    published = read_topic(
        settings,
        TOPICS["received"],
        lambda evs: any(e["data"]["submission_id"] == body["submission_id"] for e in evs),
    )
    sent = next(e for e in published if e["data"]["submission_id"] == body["submission_id"])
    assert kept[0]["event"] == sent  # the very event, with its id: the pipeline drops a repeat of it


def test_when_the_log_goes_back_the_kept_checks_are_published_again_with_their_ids(checks_app, settings, publisher):
    db = checks_app.extensions["qc.checks"].db
    client = checks_app.test_client()
    bodies = [_body() for _ in range(3)]
    for body in bodies:
        answer = client.post("/api/v1/submissions", json=body, headers={"Authorization": f"Bearer {checks_app.token}"})
        assert answer.status_code == 202
    watch = OutboxWatch(settings, db, publisher, groups={"qc-outbox-test": (TOPICS["received"],)})
    assert watch.check() == "first"
    republished, losses = _counted("qc_outbox_republished_total"), _counted("qc_broker_log_losses_total")
    # The broker "had" more events than it has now: as after the embedded broker restarted.
    checkpoint = db["outbox_state"].find_one({"_id": "checkpoint"})
    more = [[topic, partition, offset + 1000] for topic, partition, offset in checkpoint["seen"]]
    db["outbox_state"].update_one({"_id": "checkpoint"}, {"$set": {"seen": more}})
    try:
        assert watch.check() == "lost"
        assert watch.check() == "waiting"  # the new checkpoint is the log as it is now: said once
    finally:
        watch.close()
    assert _counted("qc_broker_log_losses_total") == losses + 1  # ops see it on /metrics
    assert _counted("qc_outbox_republished_total") >= republished + len(bodies)
    wanted = {b["submission_id"] for b in bodies}
    published = read_topic(
        settings,
        TOPICS["received"],
        lambda evs: all(sum(e["data"]["submission_id"] == s for e in evs) >= 2 for s in wanted),
    )
    again = [e for e in published if e["data"]["submission_id"] in wanted]
    assert {e["id"] for e in again} == wanted  # the original event ids: a repeat is dropped downstream
    assert db["outbox_state"].find_one({"_id": "checkpoint"})["safe_since"] is None  # not known yet


def test_a_directory_found_empty_at_start_means_the_log_was_lost(checks_app, settings, publisher):
    db = checks_app.extensions["qc.checks"].db
    group = f"qc-outbox-test-{uuid.uuid4().hex[:8]}"
    watch = OutboxWatch(settings, db, publisher, groups={group: (TOPICS["received"],)})
    try:
        watch.log_lost_at_start = True
        assert watch.check() == "first"  # nothing kept before the very first look: nothing to send again
        watch.log_lost_at_start = True  # the worker started again and published the directory again
        assert watch.check() == "lost"
        assert watch.check() == "waiting"  # said once
    finally:
        watch.close()


def test_checks_are_forgotten_only_once_every_group_has_read_past_the_checkpoint(checks_app, settings, publisher):
    db = checks_app.extensions["qc.checks"].db
    outbox = Outbox(db)
    old = events.now() - dt.timedelta(hours=1)
    old_bucket = bucket_of(old)
    db[old_bucket].insert_one({"_id": "old-check", "at": old, "site_id": "S0001", "event": {"id": "old-check"}})
    answer = checks_app.test_client().post(
        "/api/v1/submissions", json=_body(), headers={"Authorization": f"Bearer {checks_app.token}"}
    )
    assert answer.status_code == 202
    kept_at = max(d["at"] for d in outbox.kept_since(None))
    # A topic and group of the test's own, with ten events in one compressed batch on one partition.
    topic, group = new_topic(settings, "qc.outbox-test"), f"qc-outbox-test-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=200, compression_type="gzip")
    for _ in range(10):
        producer.send(topic, value=b"{}", partition=0)
    producer.flush()
    producer.close()
    watch = OutboxWatch(settings, db, publisher, groups={group: (topic,)})
    try:
        assert watch.check() == "first"
        assert watch.check() == "waiting"  # the group has read nothing yet
        if _commit(settings, group, topic, whole_log=False):  # the embedded broker: short of the last batch
            assert watch.check() == "waiting"
            assert old_bucket in outbox.buckets()
        _commit(settings, group, topic, whole_log=True)
        assert watch.check() == "consumed"
    finally:
        watch.close()
    safe_since = db["outbox_state"].find_one({"_id": "checkpoint"})["safe_since"]
    assert safe_since is not None
    assert old_bucket not in outbox.buckets()  # ended well before the checkpoint: dropped whole
    # A collection is kept while a check in it may not have been acknowledged before the checkpoint.
    recent = bucket_of(kept_at)
    assert (recent in outbox.buckets()) == (bucket_end(recent) >= safe_since - watch.margin)


def test_the_watch_looks_on_a_thread_of_its_own_and_stops_when_closed(checks_app, settings):
    db = checks_app.extensions["qc.checks"].db
    watch = OutboxWatch(settings, db, every=0.2, groups={"qc-outbox-test": (TOPICS["received"],)})
    watch.start()
    try:
        wait_for(lambda: db["outbox_state"].find_one({"_id": "checkpoint"}), 30, "the first look")
    finally:
        watch.close()
    assert not watch._thread.is_alive()
