"""The intake's outbox (services/checks/stores/outbox.py) on the real broker and database.

Every check answered 202 is kept (in the collection of the ten minutes it
was claimed in, in the round trip of the insert that claims it) before it is
published; when the broker's log goes back, the kept checks are published
again with their own ids; once every consumer group has read past a
checkpoint, the ten minutes kept before it are dropped. (The embedded broker
really losing its log is tests/e2e/test_supervisor.py.)
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata
from prometheus_client import REGISTRY
from pymongo import MongoClient, monitoring
from pymongo.errors import PyMongoError

from qc import events
from qc.settings import TOPICS
from services.checks.jobs.outbox_watch import OutboxWatch
from services.checks.stores.outbox import ACKS, EVENTS, Outbox, bucket_of, ten_minutes
from services.checks.stores.submissions import Submissions
from tests.conftest import new_topic, read_topic, wait_for

pytestmark = pytest.mark.integration


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
    ctx = checks_app.extensions["qc.checks"]
    kept = [d for d in Outbox(ctx.db).kept_since(None) if d["_id"] == body["submission_id"]]
    assert len(kept) == 1 and kept[0]["site_id"] == "S0001"
    assert ten_minutes(ctx.db, EVENTS, kept[0]["claimed_at"]).find_one({"_id": body["submission_id"]}) == kept[0]
    # Kept for the pipeline only: the check's record never carries the event (nor its free text).
    assert "event" not in ctx.submissions.collection.find_one({"_id": body["submission_id"]})
    published = read_topic(
        settings,
        TOPICS["received"],
        lambda evs: any(e["data"]["submission_id"] == body["submission_id"] for e in evs),
    )
    sent = next(e for e in published if e["data"]["submission_id"] == body["submission_id"])
    assert kept[0]["event"] == sent  # the very event, with its id: the pipeline drops a repeat of it


def test_a_stale_claim_taken_over_keeps_the_event_of_the_request_that_took_it(checks_app):
    """A process that died while publishing left its claim "sending"; a retry takes it over and publishes."""
    submissions = checks_app.extensions["qc.checks"].submissions
    body = _body()
    received = {**body, "checker_id": "C0001", "content_hash": "h", "received_at": "2026-12-01T10:00:00Z"}
    died, retry = (
        events.make_event(
            "org.qc.submission.received",
            source="test",
            subject="s",
            data=received,
            event_id=body["submission_id"],
            correlation_id=attempt,
        )
        for attempt in ("first-try", "second-try")
    )
    assert died != retry
    assert submissions.claim(received, died, "first-try", stale_after=60) is not None
    assert submissions.claim(received, retry, "second-try", stale_after=60) is None  # not stale yet: held
    assert submissions.claim(received, retry, "second-try", stale_after=0) is not None  # stale: taken over
    record = submissions.collection.find_one({"_id": body["submission_id"]})
    assert record["correlation_id"] == "second-try"
    kept = [d for d in submissions.outbox.kept_since(None) if d["_id"] == body["submission_id"]]
    assert [d["event"] for d in kept] == [retry]  # only the claim the record holds now is published again


def test_a_claim_acknowledged_or_decided_is_never_taken_over_however_old(checks_app):
    """The record says "sending" for ever (acks.py, decisions.py): a late retry must still meet the check as sent,
    never take its claim over and publish it a second time (the crash test's "received twice")."""
    submissions = checks_app.extensions["qc.checks"].submissions
    events_by_id = {}
    for kind in ("acknowledged", "decided"):
        body = _body()
        received = {**body, "checker_id": "C0001", "content_hash": kind, "received_at": "2026-12-01T10:00:00Z"}
        event = events.make_event("org.qc.submission.received", source="test", subject="s", data=received)
        claim = submissions.claim(received, event, kind, stale_after=60)
        if kind == "acknowledged":
            submissions.mark_accepted(claim)
            submissions.acks.write()
            other_process = Submissions(submissions.collection.database)  # holds no acknowledgement of its own
        else:
            submissions.record_decision(received, "validated", [], "R01")
            other_process = submissions
        assert other_process.claim(received, event, "late retry", stale_after=0) is None, kind
        events_by_id[body["submission_id"]] = event
    kept = {d["_id"]: d["event"] for d in submissions.outbox.kept_since(None) if d["_id"] in events_by_id}
    assert kept == events_by_id  # the first claims' events, not the retries'


def test_a_claim_given_up_is_not_published_again(checks_app):
    """A publish that failed releases its claim: the event it kept is left behind, never sent."""
    submissions = checks_app.extensions["qc.checks"].submissions
    body = _body()
    received = {**body, "checker_id": "C0001", "content_hash": "h", "received_at": "2026-12-01T10:00:00Z"}
    event = events.make_event("org.qc.submission.received", source="test", subject="s", data=received)
    claim = submissions.claim(received, event, "c", stale_after=60)
    assert ten_minutes(submissions.collection.database, EVENTS, claim["claimed_at"]).find_one({"_id": claim["_id"]})
    submissions.release(body["submission_id"])
    assert body["submission_id"] not in {d["_id"] for d in submissions.outbox.kept_since(None)}
    # The phone's retry claims it anew: its event takes the place of the one left behind.
    retry = {**event, "id": "the retry's"}
    assert submissions.claim(received, retry, "c", stale_after=60) is not None
    assert [d["event"] for d in submissions.outbox.kept_since(None) if d["_id"] == body["submission_id"]] == [retry]


class _Writes(monitoring.CommandListener):
    """The write commands a client sends, with the collections each one writes to."""

    def __init__(self):
        self.seen: list[tuple[str, list[str]]] = []

    def started(self, event):
        if event.command_name in ("insert", "update", "delete", "bulkWrite"):
            command = event.command
            if event.command_name == "bulkWrite":
                names = [ns["ns"].split(".", 1)[1] for ns in command["nsInfo"]]
            else:
                names = [command[event.command_name]]
            self.seen.append((event.command_name, names))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def test_a_claim_and_the_event_it_keeps_are_inserted_in_one_round_trip(checks_app, settings):
    """Two inserts per check were a third of the database's requests at 100 checks a second."""
    writes = _Writes()
    client = MongoClient(settings.mongo_uri, event_listeners=[writes], tz_aware=True)
    try:
        db = client[checks_app.extensions["qc.checks"].db.name]
        submissions = Submissions(db)
        body = _body()
        received = {**body, "checker_id": "C0001", "content_hash": "h", "received_at": "2026-12-01T10:00:00Z"}
        event = events.make_event("org.qc.submission.received", source="test", subject="s", data=received)
        claim = submissions.claim(received, event, "c", stale_after=60)
        assert claim is not None
        assert writes.seen == [("bulkWrite", ["submissions", f"{EVENTS}_{bucket_of(claim['claimed_at'])}"])]
        assert [d["event"] for d in submissions.outbox.kept_since(None) if d["_id"] == body["submission_id"]] == [event]
    finally:
        client.close()


def test_a_claim_whose_event_cannot_be_kept_is_released_so_a_retry_can_make_it(checks_app):
    """The record and its event go in together, unordered: if the event is refused, the record is taken out again."""
    submissions = checks_app.extensions["qc.checks"].submissions
    db = submissions.collection.database
    now = events.now()
    buckets = {f"{EVENTS}_{bucket_of(now + dt.timedelta(minutes=m))}" for m in (0, 10)}  # a ten minutes may end
    for name in buckets:
        db.drop_collection(name)
        db.create_collection(name, validator={"site_id": {"$type": "int"}})  # refuses every kept event
    body = _body()
    received = {**body, "checker_id": "C0001", "content_hash": "h", "received_at": "2026-12-01T10:00:00Z"}
    event = events.make_event("org.qc.submission.received", source="test", subject="s", data=received)
    try:
        with pytest.raises(PyMongoError):
            submissions.claim(received, event, "c", stale_after=60)
        assert submissions.collection.find_one({"_id": body["submission_id"]}) is None
    finally:
        for name in buckets:
            db.drop_collection(name)
    assert submissions.claim(received, event, "c", stale_after=60) is not None


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
    old = events.now() - dt.timedelta(hours=1)
    old_ids = [f"old-check-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    outbox = Outbox(db)
    for old_id in old_ids:
        db["submissions"].insert_one({"_id": old_id, "claimed_at": old, "site_id": "S0001", "status": "validated"})
        outbox.keep(old_id, "S0001", old, {"id": old_id})
    ten_minutes(db, ACKS, old).insert_one({"_id": old_ids[0], "claimed_at": old})
    # A record from before the outbox had collections of its own keeps its event in two fields.
    legacy = f"legacy-check-{uuid.uuid4().hex[:8]}"
    legacy_fields = {"outbox": bucket_of(old), "event": {"id": legacy}}
    db["submissions"].insert_one({"_id": legacy, "claimed_at": old, "site_id": "S0001", **legacy_fields})
    assert {legacy, *old_ids} <= {d["_id"] for d in outbox.kept_since(None)}
    body = _body()
    answer = checks_app.test_client().post(
        "/api/v1/submissions", json=body, headers={"Authorization": f"Bearer {checks_app.token}"}
    )
    assert answer.status_code == 202
    recent = db["submissions"].find_one({"_id": body["submission_id"]})
    old_events, old_acks = ten_minutes(db, EVENTS, old).name, ten_minutes(db, ACKS, old).name
    # A topic and group of the test's own, with ten events in one compressed batch on one partition.
    topic, group = new_topic(settings, "qc.outbox-test"), f"qc-outbox-test-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=200, compression_type="gzip")
    for _ in range(10):
        producer.send(topic, value=b"{}", partition=0)
    producer.flush()
    producer.close()

    def still_kept(submission_id: str) -> bool:
        return submission_id in {d["_id"] for d in Outbox(db).kept_since(None)}

    watch = OutboxWatch(settings, db, publisher, groups={group: (topic,)})
    try:
        assert watch.check() == "first"
        assert watch.check() == "waiting"  # the group has read nothing yet
        if _commit(settings, group, topic, whole_log=False):  # the embedded broker: short of the last batch
            assert watch.check() == "waiting"
            assert all(still_kept(i) for i in old_ids)
        _commit(settings, group, topic, whole_log=True)
        assert watch.check() == "consumed"
    finally:
        watch.close()
    safe_since = db["outbox_state"].find_one({"_id": "checkpoint"})["safe_since"]
    assert safe_since is not None
    assert not any(still_kept(i) for i in [legacy, *old_ids])  # kept well before the checkpoint: let go of
    assert not {old_events, old_acks} & set(db.list_collection_names())  # their ten minutes dropped whole
    assert "event" not in db["submissions"].find_one({"_id": legacy})
    assert db["submissions"].find_one({"_id": old_ids[0]})["status"] == "validated"  # the record itself stays
    # An event is kept while its check may not have been acknowledged before the checkpoint.
    cutoff = bucket_of(safe_since - watch.margin)
    assert still_kept(body["submission_id"]) == (bucket_of(recent["claimed_at"]) >= cutoff)


def test_the_watch_looks_on_a_thread_of_its_own_and_stops_when_closed(checks_app, settings):
    db = checks_app.extensions["qc.checks"].db
    watch = OutboxWatch(settings, db, every=0.2, groups={"qc-outbox-test": (TOPICS["received"],)})
    watch.start()
    try:
        wait_for(lambda: db["outbox_state"].find_one({"_id": "checkpoint"}), 30, "the first look")
    finally:
        watch.close()
    assert not watch._thread.is_alive()
