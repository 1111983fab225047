"""Dead letters for ops: list what consumers gave up on, and re-drive it to where it came from.

``qc.deadletter`` is read from the start by a consumer with no group (so
reading commits nothing and disturbs no worker). Listing shows where each
event came from and why it failed, never its payload: a check may hold a
safeguarding concern. Replay sends the original bytes, with the original key,
to the original topic and records it in ``deadletter_replays`` keyed by the
dead letter's id, so the same one is not re-driven twice unless forced.
Consumers are idempotent, so a replay that is repeated after a crash
changes nothing twice.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
import time

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from qc import events
from qc.kafka import make_producer
from qc.settings import TOPICS, Settings

REPLAYS = "deadletter_replays"
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """One record of ``qc.deadletter``, decoded; ``readable`` is False when it is not a dead-letter event."""

    id: str
    failed_at: str
    topic: str
    partition: int
    offset: int
    group: str
    reason: str
    key: bytes | None = None
    value: bytes | None = None
    readable: bool = True


def read(settings: Settings, *, timeout: float = 30.0) -> list[DeadLetter]:
    """Every dead letter on the topic now, oldest first."""
    topic = TOPICS["deadletter"]
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id="qc-cli-deadletter",
        group_id=None,
        enable_auto_commit=False,
        api_version=settings.kafka_api_tuple,
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        letters: list[DeadLetter] = []
        deadline = time.monotonic() + timeout
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end within {timeout} s")
            for tp, records in consumer.poll(timeout_ms=500).items():
                letters.extend(_decode(r.partition, r.offset, r.value) for r in records)
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        # Partitions are read in no particular order; show them in the order they failed.
        return sorted(letters, key=lambda d: d.failed_at)
    finally:
        consumer.close(autocommit=False)


def _decode(partition: int, offset: int, raw: bytes | None) -> DeadLetter:
    try:
        event = json.loads(raw)
        data = event["data"]
        value = base64.b64decode(data["value_base64"], validate=True)
        key = data.get("key")
        if data.get("key_base64") is not None:  # exact bytes, where the producer kept them
            key = base64.b64decode(data["key_base64"], validate=True)
        elif key is not None:
            key = str(key).encode()
        return DeadLetter(
            id=str(event["id"]),
            failed_at=str(data.get("failed_at") or event.get("time", "")),
            topic=str(data["topic"]),
            partition=int(data["partition"]),
            offset=int(data["offset"]),
            group=str(data.get("group", "?")),
            reason=str(data.get("reason", "")),
            key=key,
            # An empty value was a tombstone (None) when it was dead-lettered.
            value=value or None,
        )
    except (ValueError, TypeError, KeyError, binascii.Error):
        where = f"{TOPICS['deadletter']}:{partition}:{offset}"
        return DeadLetter(where, "", "?", -1, -1, "?", "unreadable dead-letter record", readable=False)


def select(letters: list[DeadLetter], *, topic: str | None = None, ids=None) -> list[DeadLetter]:
    """Those from ``topic`` (the original topic) and/or with one of ``ids``."""
    return [d for d in letters if (topic is None or d.topic == topic) and (ids is None or d.id in set(ids))]


def replayed(db: Database, ids: list[str]) -> dict[str, dict]:
    """What is recorded about earlier replays of these dead letters, by id."""
    return {doc["_id"]: doc for doc in db[REPLAYS].find({"_id": {"$in": list(ids)}})}


def line(letter: DeadLetter, replay: dict | None = None) -> str:
    """One line for ``qc deadletter list``: when, where from, which group, id, replayed or not, and why."""
    # Schema and handler messages can quote the event's own values (a comment,
    # a name): keep where and why, drop what was quoted.
    reason = _QUOTED.sub("'…'", " ".join(letter.reason.split()))
    if len(reason) > 200:
        reason = reason[:200] + "…"
    where = f"{letter.topic}/{letter.partition}@{letter.offset}" if letter.readable else "?"
    state = f"replayed x{replay.get('times', 1)}" if replay else "-"
    return f"{letter.failed_at or '?'}  {where}  group={letter.group}  id={letter.id}  {state}  reason={reason}"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What ``replay`` did with one dead letter."""

    letter: DeadLetter
    action: str  # replayed | would-replay | skipped | failed
    detail: str = ""


def replay(
    settings: Settings,
    db: Database,
    letters: list[DeadLetter],
    *,
    by: str,
    dry_run: bool = False,
    force: bool = False,
) -> list[Outcome]:
    """Re-produce each dead letter's original bytes to its original topic, once per dead letter unless ``force``."""
    collection = db[REPLAYS]
    earlier = replayed(db, [d.id for d in letters])
    outcomes: list[Outcome] = []
    producer = None
    try:
        for letter in letters:
            refusal = _refusal(letter, earlier.get(letter.id), force)
            if refusal:
                outcomes.append(Outcome(letter, "skipped", refusal))
                continue
            if dry_run:
                outcomes.append(Outcome(letter, "would-replay", f"to {letter.topic}"))
                continue
            claimed = _claim(collection, letter, by, force)
            if claimed is None:
                outcomes.append(Outcome(letter, "skipped", "another replay claimed it just now"))
                continue
            producer = producer or make_producer(settings, "qc-cli-deadletter")
            try:
                sent = producer.send(letter.topic, key=letter.key, value=letter.value).get(
                    timeout=settings.kafka_ack_timeout_seconds
                )
            except KafkaError as e:
                _unclaim(collection, letter, earlier.get(letter.id))
                outcomes.append(Outcome(letter, "failed", f"broker did not take it: {type(e).__name__}"))
                continue
            collection.update_one(
                {"_id": letter.id},
                {
                    "$set": {"status": "replayed", "replayed_at": events.now(), "by": by},
                    "$push": {"sent": {"topic": letter.topic, "partition": sent.partition, "offset": sent.offset}},
                    "$inc": {"times": 1},
                },
            )
            outcomes.append(Outcome(letter, "replayed", f"to {letter.topic}/{sent.partition}@{sent.offset}"))
    finally:
        if producer is not None:
            producer.close(timeout=settings.kafka_ack_timeout_seconds)
    return outcomes


def _refusal(letter: DeadLetter, earlier: dict | None, force: bool) -> str | None:
    if not letter.readable:
        return "not a readable dead letter"
    if letter.topic == TOPICS["deadletter"]:
        return "will not send a dead letter back to the dead-letter topic"
    if earlier and not force:
        if earlier.get("status") == "replaying":
            return "an earlier replay did not finish; check the topic, then use --force"
        return f"already replayed ({earlier.get('times', 1)}x); use --force to send it again"
    return None


def _claim(collection, letter: DeadLetter, by: str, force: bool) -> str | None:
    """Record the replay as started; "new" or "again" when ours to send, None when another run has it."""
    doc = {
        "_id": letter.id,
        "status": "replaying",
        "claimed_at": events.now(),
        "by": by,
        "source": {"topic": letter.topic, "partition": letter.partition, "offset": letter.offset},
        "group": letter.group,
        "times": 0,
        "sent": [],
    }
    try:
        collection.insert_one(doc)
        return "new"
    except DuplicateKeyError:
        if not force:
            return None
    collection.update_one({"_id": letter.id}, {"$set": {"status": "replaying", "claimed_at": events.now(), "by": by}})
    return "again"


def _unclaim(collection, letter: DeadLetter, earlier: dict | None) -> None:
    """Nothing was sent: forget the claim, or put back what an earlier replay recorded."""
    if earlier is None:
        collection.delete_one({"_id": letter.id, "status": "replaying"})
    else:
        collection.update_one({"_id": letter.id}, {"$set": {"status": earlier.get("status", "replayed")}})
