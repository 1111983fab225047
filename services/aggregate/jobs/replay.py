"""`qc replay --from-start`: rebuild every roll-up from the validated topic, then switch over.

Pause the live workers, read ``qc.submissions.validated`` from the beginning
up to its current end into fresh collections, rename them into place, resume.
Roll-ups are a pure function of the facts, so the result equals what the live
workers computed, whatever order or duplication they saw.

The stored facts hold the only copy of checkers' comments and texts once the
log's retention (7 days by default on Apache Kafka) has removed old events,
so a replay never destroys history: it refuses, changing nothing, when the
log no longer starts at offset 0 or when any stored fact's event is no longer
in the log (checked first, reading ids only, before any rebuilding). A broker
or database outage stops it with an error (the live collections untouched)
instead of counting events as skipped.
"""

from __future__ import annotations

import json
import logging
import time

from kafka import KafkaConsumer, TopicPartition
from pymongo.database import Database

from qc import events
from qc.failures import is_transient, where
from qc.handler import Delivery
from qc.settings import TOPICS, Settings
from services.aggregate.stores.control import ReplayControl
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.rollups import RollupStore
from services.aggregate.worker import AggregateHandler

log = logging.getLogger(__name__)
LIVE = ("agg_facts", "agg_rollups")


class ReplayError(RuntimeError):
    """The replay could not finish; the live collections are untouched."""


def replay_from_start(settings: Settings, db: Database, pause_timeout: float = 60.0) -> dict:
    """Rebuild, switch over and return figures: events read, facts, skipped, seconds."""
    started = time.monotonic()
    control = ReplayControl(db)
    asked = control.request_pause()
    try:
        deadline = time.monotonic() + pause_timeout
        while not control.all_paused(asked):
            if time.monotonic() > deadline:
                raise ReplayError(f"aggregation workers did not pause within {pause_timeout:.0f} s")
            time.sleep(0.2)
        # Before any work: the log must still hold every check stored now (reading ids only is quick).
        _check_nothing_lost(db["agg_facts"], _ids_in_log(settings))
        prefix = f"agg_replay_{int(time.time())}_"
        store = RollupStore(db, prefix=prefix)
        store.ensure_indexes()
        try:
            figures = _rebuild(settings, store, SiteDirectory(db))
        except BaseException:
            for collection in (store.facts, store.rollups):
                collection.drop()
            raise
        for name in LIVE:
            db[prefix + name.removeprefix("agg_")].rename(name, dropTarget=True)
    finally:
        control.resume()
    figures["seconds"] = round(time.monotonic() - started, 2)
    log.info("replay finished", extra=figures)
    return figures


def _caught_up(consumer: KafkaConsumer, tp: TopicPartition, listed_end: int) -> bool:
    high = consumer.highwater(tp)
    position = consumer.position(tp)
    return high is not None and position >= max(high, listed_end)


def _ids_in_log(settings: Settings) -> set[str]:
    """The submission ids of every event on the validated topic (the log's retention may have removed some)."""
    consumer = _consumer(settings)
    topic, ids = TOPICS["validated"], set()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        _check_log_starts_at_zero(consumer, partitions)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        while not all(_caught_up(consumer, tp, ends[tp]) for tp in partitions):
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    try:
                        ids.add(json.loads(record.value)["data"]["submission_id"])
                    except (ValueError, TypeError, KeyError):
                        pass  # not an event: dead-lettered by the live worker, so never a stored fact
    finally:
        consumer.close()
    return ids


def _check_nothing_lost(live, in_log: set[str]) -> None:
    """ReplayError when a fact stored now has no event in the log any more."""
    missing = sum(1 for d in live.find({}, {"_id": 1}) if d["_id"] not in in_log)
    if missing:
        raise ReplayError(
            f"{missing} checks stored now are no longer in {TOPICS['validated']} (the log's retention removed "
            "them); a replay would lose them and their comments. Nothing was changed."
        )


def _check_log_starts_at_zero(consumer: KafkaConsumer, partitions: list[TopicPartition]) -> None:
    """ReplayError when retention has removed the start of the log on any partition."""
    trimmed = sorted(tp.partition for tp, first in consumer.beginning_offsets(partitions).items() if first > 0)
    if trimmed:
        raise ReplayError(
            f"{TOPICS['validated']} no longer starts at offset 0 on partition(s) {trimmed} (the log's retention "
            "removed older events); a replay would lose the checks that are only stored now. Nothing was changed."
        )


def _apply(handler: AggregateHandler, batch: list[Delivery]) -> int:
    """Handle a batch; if it fails, event by event, skipping (and counting) those that fail.

    An outage (broker or database unavailable) is raised, never counted as skipped: the
    replay stops with the live collections untouched, as the consumer loop would retry.
    """
    if not batch:
        return 0
    try:
        handler.handle(batch)
        return 0
    except Exception as e:
        if is_transient(e):
            raise
        log.error("replay batch failed; retrying its events one by one", extra={"error": where(e)})
    failed = 0
    for delivery in batch:
        try:
            handler.handle([delivery])
        except Exception as e:
            if is_transient(e):
                raise
            failed += 1  # the live worker dead-lettered it too
    return failed


def _consumer(settings: Settings) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        api_version=settings.kafka_api_tuple,
        max_poll_records=settings.consumer_max_records,
    )


def _rebuild(settings: Settings, store: RollupStore, directory: SiteDirectory) -> dict:
    consumer = _consumer(settings)
    handler = AggregateHandler(store, directory, publisher=None, sole_writer=True)  # the workers are paused
    topic = TOPICS["validated"]
    read = skipped = 0
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        # Read to the end as it stands once the workers are paused. Tansu 0.6
        # answers ListOffsets(latest) with the base offset of the last batch,
        # so the fetch's high watermark is trusted too; the larger one wins.
        ends = consumer.end_offsets(partitions)
        while True:
            batch = []
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    read += 1
                    try:
                        batch.append(Delivery(record, events.decode(record.value, schemas_dir=settings.schemas_dir)))
                    except events.EventError:
                        skipped += 1  # already dead-lettered by the live worker when it met it
            skipped += _apply(handler, batch)
            if all(_caught_up(consumer, tp, ends[tp]) for tp in partitions):
                break
    finally:
        consumer.close()
    return {
        "events": read,
        "skipped": skipped,
        "facts": store.facts.count_documents({}),
        "rollups": store.rollups.count_documents({}),
    }
