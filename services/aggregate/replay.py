"""`qc replay --from-start`: rebuild every roll-up from the validated topic, then switch over.

Pause the live workers, read ``qc.submissions.validated`` from the beginning
up to its current end into fresh collections, rename them into place, resume.
Roll-ups are a pure function of the facts, so the result equals what the live
workers computed, whatever order or duplication they saw.
"""

from __future__ import annotations

import logging
import time

from kafka import KafkaConsumer, TopicPartition
from pymongo.database import Database

from qc import events
from qc.consumer import Delivery, where
from qc.settings import TOPICS, Settings
from services.aggregate.control import ReplayControl
from services.aggregate.directory import SiteDirectory
from services.aggregate.store import RollupStore
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
        prefix = f"agg_replay_{int(time.time())}_"
        store = RollupStore(db, prefix=prefix)
        store.ensure_indexes()
        figures = _rebuild(settings, store, SiteDirectory(db))
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


def _apply(handler: AggregateHandler, batch: list[Delivery]) -> int:
    """Handle a batch; if it fails, event by event, skipping (and counting) those that fail."""
    if not batch:
        return 0
    try:
        handler.handle(batch)
        return 0
    except Exception as e:
        log.error("replay batch failed; retrying its events one by one", extra={"error": where(e)})
    failed = 0
    for delivery in batch:
        try:
            handler.handle([delivery])
        except Exception:
            failed += 1  # the live worker dead-lettered it too
    return failed


def _rebuild(settings: Settings, store: RollupStore, directory: SiteDirectory) -> dict:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        api_version=settings.kafka_api_tuple,
        max_poll_records=settings.consumer_max_records,
    )
    handler = AggregateHandler(store, directory, publisher=None)
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
