"""`qc deadletter list | replay` over the real broker and database, on dead letters made by a real consumer loop."""

from __future__ import annotations

import base64
import threading
import time
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from qc import events, mongo, signing
from qc.consumer import ConsumerLoop
from qc.deadletter import REPLAYS
from qc.kafka import Publisher, make_consumer, make_producer
from qc.settings import TOPICS
from qc_tools import cli
from tests import builders
from tests.conftest import new_topic, read_topic, wait_for

pytestmark = pytest.mark.integration
SECRET = "Mary Smith says the night staff hurt her"


@pytest.fixture(scope="module")
def dead(stack):
    """Three poison events on a topic of our own, dead-lettered by a real ConsumerLoop (then stopped)."""
    settings = stack.settings
    topic = new_topic(settings, "qc.test.dl")
    good = events.make_event(
        "org.qc.directory.changed",
        source="t",
        subject="ok",
        data={"entity": "region", "id": "R1", "active": True, "name": "R"},
    )
    good = signing.sign(settings.secret_key, good)  # a directory event is applied only when signed
    explode = signing.sign(settings.secret_key, {**good, "id": "explode-1", "subject": "explode"})
    wrong_schema = {**good, "id": "wrong-1", "data": {**good["data"], "name": 5, "note": SECRET}}
    raw = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    sent = [
        # A key that is not UTF-8: a replay must still send exactly these bytes.
        (b"site-1\xff\x00", b"not json at all: " + SECRET.encode()),
        (b"site-2", events.encode(explode)),
        (b"site-3", events.encode(wrong_schema)),
        (b"site-4", events.encode(good)),
    ]
    for key, value in sent:
        raw.send(topic, key=key, value=value).get(timeout=10)
    raw.close()
    group = f"qc-test-dl-{uuid.uuid4().hex[:6]}"
    handler = builders.Recorder(topic)
    publisher = Publisher(make_producer(settings, "qc-tests"), source="qc/tests", timeout=10)
    loop = ConsumerLoop(settings, make_consumer(settings, group), group, handler, publisher)
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        wait_for(lambda: good["id"] in handler.seen, 30, "the good event to be handled")
        letters = read_topic(
            settings, TOPICS["deadletter"], lambda evs: len([e for e in evs if e["data"]["topic"] == topic]) == 3
        )
    finally:
        loop.stop()
        thread.join(timeout=30)
        publisher.close()
    mine = sorted((e for e in letters if e["data"]["topic"] == topic), key=lambda e: e["data"]["failed_at"])
    return {"topic": topic, "group": group, "letters": mine, "sent": sent}


@pytest.fixture
def qc_env(settings, monkeypatch):
    """`qc` reads its settings from the environment: point it at the test's broker and database."""
    monkeypatch.setenv("QC_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
    monkeypatch.setenv("QC_MONGO_URI", settings.mongo_uri)
    monkeypatch.setenv("QC_MONGO_DB", settings.mongo_db)
    db = mongo.connect(settings, "qc-tests")
    yield db
    db.client.drop_database(settings.mongo_db)
    db.client.close()


def _run(capsys, *argv) -> tuple[int, list[str], str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, [line for line in out.splitlines() if line.strip()], err


def _records(settings, topic: str) -> list[tuple[bytes, bytes]]:
    """Every (key, value) on ``topic`` now, read to its end without a group."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        seen: list[tuple[bytes, bytes]] = []
        deadline = time.monotonic() + 20
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for batch in consumer.poll(timeout_ms=300).values():
                seen.extend((r.key, r.value) for r in batch)
        return seen
    finally:
        consumer.close()


def test_list_says_where_from_which_group_and_why_but_never_the_payload(dead, qc_env, capsys):
    code, lines, err = _run(capsys, "deadletter", "list", "--topic", dead["topic"])
    assert code == 0 and len(lines) == 3, lines
    by_id = {letter["id"]: letter for letter in dead["letters"]}
    for line in lines:
        data = by_id[line.split("id=")[1].split()[0]]["data"]
        assert f"{dead['topic']}/{data['partition']}@{data['offset']}" in line
        assert f"group={dead['group']}" in line and data["failed_at"] in line
    reasons = " ".join(line.split("reason=")[1] for line in lines)
    assert "not valid JSON" in reasons and "handler failed: ValueError at " in reasons and "schema" in reasons
    assert "cannot handle this one" not in reasons  # an exception's message may quote what a checker wrote
    text = "\n".join(lines) + err
    assert "Mary" not in text and "not json at all" not in text and "night staff" not in text
    assert "3 of 3 dead letters shown" in err


def test_reasons_on_the_topic_name_the_field_and_rule_never_the_payload(dead):
    """The dead-letter topic's own reasons (not only the list's) keep a check's words out."""
    reasons = [letter["data"]["reason"] for letter in dead["letters"]]
    [schema] = [r for r in reasons if "schema" in r]
    assert (
        schema == "org.qc.directory.changed does not match its schema: (root): has a property the schema does not allow"
    )
    assert not any("Mary" in r or "night staff" in r or "not json at all" in r for r in reasons)


def test_the_exact_key_bytes_are_kept(dead):
    [first] = [d for d in dead["letters"] if "not valid JSON" in d["data"]["reason"]]
    assert base64.b64decode(first["data"]["key_base64"]) == b"site-1\xff\x00"
    assert first["data"]["key"] == "site-1\ufffd\x00"  # the readable form is lossy; the replay uses the bytes


def test_list_limit_shows_the_newest(dead, qc_env, capsys):
    code, lines, _ = _run(capsys, "deadletter", "list", "--topic", dead["topic"], "--limit", "1")
    assert code == 0 and len(lines) == 1 and f"id={dead['letters'][-1]['id']}" in lines[0]


def test_replay_sends_the_original_bytes_and_key_once_unless_forced(dead, qc_env, settings, capsys):
    [first] = [d for d in dead["letters"] if "not valid JSON" in d["data"]["reason"]]
    original = dead["sent"][0]
    topic = dead["topic"]
    before = _records(settings, topic)
    copies = before.count(original)

    code, lines, _ = _run(capsys, "deadletter", "replay", "--id", first["id"], "--dry-run")
    assert code == 0 and lines[0].startswith("would-replay")
    assert qc_env[REPLAYS].count_documents({}) == 0

    code, lines, _ = _run(capsys, "deadletter", "replay", "--id", first["id"])
    assert code == 0 and lines[0].startswith("replayed") and f"to {topic}/" in lines[0]
    after = _records(settings, topic)
    # The very bytes and key that were dead-lettered, back on their own topic, once.
    assert len(after) == len(before) + 1 and after.count(original) == copies + 1
    record = qc_env[REPLAYS].find_one({"_id": first["id"]})
    assert record["status"] == "replayed" and record["times"] == 1
    assert record["source"] == {
        "topic": topic,
        "partition": first["data"]["partition"],
        "offset": first["data"]["offset"],
    }

    code, lines, _ = _run(capsys, "deadletter", "replay", "--id", first["id"])
    assert code == 0 and lines[0].startswith("skipped") and "already replayed" in lines[0]
    code, lines, _ = _run(capsys, "deadletter", "list", "--topic", topic)
    states = {line.split("id=")[1].split()[0]: line.split("id=")[1].split()[1] for line in lines}
    assert states == {d["id"]: "replayed" if d is first else "-" for d in dead["letters"]}
    assert "replayed x1" in next(line for line in lines if first["id"] in line)

    code, lines, _ = _run(capsys, "deadletter", "replay", "--id", first["id"], "--force")
    assert code == 0 and lines[0].startswith("replayed")
    assert _records(settings, topic).count(original) == copies + 2
    assert qc_env[REPLAYS].find_one({"_id": first["id"]})["times"] == 2


def test_replay_all_of_a_topic_dry_run_then_for_real(dead, qc_env, settings, capsys):
    topic = dead["topic"]
    code, lines, err = _run(capsys, "deadletter", "replay", "--all", "--topic", topic, "--dry-run")
    assert code == 0 and [line.split()[0] for line in lines] == ["would-replay"] * 3
    assert "would-replay 3" in err and qc_env[REPLAYS].count_documents({}) == 0
    code, lines, err = _run(capsys, "deadletter", "replay", "--all", "--topic", topic)
    assert code == 0 and "replayed 3" in err
    assert {d["_id"] for d in qc_env[REPLAYS].find()} == {letter["id"] for letter in dead["letters"]}
    code, lines, err = _run(capsys, "deadletter", "replay", "--all", "--topic", topic)
    assert "skipped 3" in err and "replayed 0" in err


def test_replay_needs_an_id_or_all_and_says_which_ids_are_unknown(dead, qc_env, capsys):
    code, _, err = _run(capsys, "deadletter", "replay")
    assert code == 2 and "--all" in err
    code, lines, err = _run(capsys, "deadletter", "replay", "--id", "no-such-id")
    assert code == 1 and "no dead letter no-such-id" in err and lines == []
