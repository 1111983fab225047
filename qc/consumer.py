"""The at-least-once consumer loop every worker runs.

poll -> decode -> handle (idempotent, durable) -> publish -> commit. An
event that cannot be read or handled goes to ``qc.deadletter`` with the
reason and the loop moves on; an outage of the broker or database is not the
event's fault, so the batch is rewound and retried with back-off instead.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import threading

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import IllegalStateError, KafkaError
from pymongo.errors import ConnectionFailure

from qc import events, logs, metrics
from qc.kafka import Publisher, PublishError
from qc.settings import TOPICS, Settings

log = logging.getLogger(__name__)

# Errors that say "the infrastructure is down", not "this event is bad".
TRANSIENT = (ConnectionFailure, PublishError, KafkaError)


@dataclasses.dataclass
class Delivery:
    """One consumed record and its decoded event."""

    record: ConsumerRecord
    event: dict


class Handler:
    """What a worker does with events; every method must be safe to repeat."""

    topics: list[str] = []

    def handle(self, batch: list[Delivery]) -> None:
        """Make the batch's effects durable and queue follow-up events."""
        raise NotImplementedError

    def tick(self) -> None:
        """Periodic work between polls (e.g. retrying deliveries)."""

    def paused(self) -> bool:
        """True to stop fetching for now (asked between batches, so nothing is half done)."""
        return False


class _Listener(ConsumerRebalanceListener):
    def __init__(self, group: str):
        self.group = group

    def on_partitions_revoked(self, revoked):
        # Offsets are committed after every batch, before the next poll, so
        # nothing processed is left uncommitted when partitions move.
        log.info(
            "partitions revoked", extra={"group": self.group, "count": len(revoked), "partitions": _names(revoked)}
        )
        for tp in revoked:
            # 0, not removal: the gauge is "livemax" across processes, so the
            # partition's new owner reports the real figure.
            metrics.CONSUMER_LAG.labels(self.group, tp.topic, str(tp.partition)).set(0)

    def on_partitions_assigned(self, assigned):
        # Which ones, so the logs show how a scaled-out group shares the work.
        log.info(
            "partitions assigned", extra={"group": self.group, "count": len(assigned), "partitions": _names(assigned)}
        )


def _names(partitions) -> list[str]:
    return sorted(f"{tp.topic}/{tp.partition}" for tp in partitions)


class ConsumerLoop:
    """Runs a Handler over a consumer group until ``stop()``."""

    def __init__(
        self,
        settings: Settings,
        consumer: KafkaConsumer,
        group: str,
        handler: Handler,
        publisher: Publisher,
    ):
        self.settings = settings
        self.consumer = consumer
        self.group = group
        self.handler = handler
        self.publisher = publisher
        self._stopping = threading.Event()
        self._backoff = 0.5

    def stop(self) -> None:
        """Ask the loop to finish its current batch and return."""
        self._stopping.set()

    def run(self) -> None:
        """Poll, handle and commit until stopped; then leave the group and close."""
        metrics.initialise_consumer(self.group, self.handler.topics)
        self.consumer.subscribe(self.handler.topics, listener=_Listener(self.group))
        log.info("consumer started", extra={"group": self.group, "topics": self.handler.topics})
        try:
            while not self._stopping.is_set():
                # Set on every round, even a failing one: a worker that stops
                # going round (a hung handler) is what QcWorkerStuck looks for.
                metrics.mark_polled(self.group)
                try:
                    self._step()
                except KafkaError as e:
                    # Broker trouble or a rebalance that took our partitions
                    # mid-batch: nothing uncommitted is lost, the next owner
                    # (maybe us) replays it, and handlers are idempotent.
                    metrics.PROCESSING_ERRORS.labels(self.group, "transient").inc()
                    log.warning("poll or commit failed; carrying on", extra={"group": self.group, "error": repr(e)})
                    self._stopping.wait(self._backoff)
                    self._backoff = min(self._backoff * 2, 10.0)
        finally:
            # Every handled batch is already committed (see _step), so there
            # is nothing left to commit; closing leaves the group at once so
            # the other members take over our partitions without waiting for
            # the session timeout.
            self.consumer.close(autocommit=False)
            log.info("consumer stopped", extra={"group": self.group})

    def _step(self) -> None:
        if self.handler.paused():
            # Still polling keeps us in the group; paused partitions return nothing.
            self.consumer.pause(*self.consumer.assignment())
        elif self.consumer.paused():
            self.consumer.resume(*self.consumer.paused())
        polled = self.consumer.poll(
            timeout_ms=self.settings.consumer_poll_ms,
            max_records=self.settings.consumer_max_records,
        )
        records = [r for batch in polled.values() for r in batch]
        if records and self._process(records):
            self.consumer.commit()
        self._update_lag()
        if not self._stopping.is_set():  # periodic work can wait for the next process
            self._tick()

    def _process(self, records: list[ConsumerRecord]) -> bool:
        """Handle one polled batch; False when it was rewound for a retry."""
        good, bad = [], []
        for record in records:
            try:
                good.append(Delivery(record, events.decode(record.value, schemas_dir=self.settings.schemas_dir)))
            except events.EventError as e:
                bad.append((record, str(e)))
        try:
            self._handle(good, bad)
            for record, reason in bad:
                self._dead_letter(record, reason)
            self.publisher.flush()
        except TRANSIENT as e:
            metrics.PROCESSING_ERRORS.labels(self.group, "transient").inc()
            log.warning(
                "infrastructure unavailable; will retry the batch", extra={"group": self.group, "error": repr(e)}
            )
            self._rewind(records)
            self._stopping.wait(self._backoff)
            self._backoff = min(self._backoff * 2, 10.0)
            return False
        self._backoff = 0.5
        for d in good:
            metrics.EVENTS_CONSUMED.labels(self.group, d.record.topic, "processed").inc()
        return True

    def _handle(self, good: list[Delivery], bad: list) -> None:
        if not good:
            return
        try:
            with logs.correlation(None):
                self.handler.handle(good)
            return
        except TRANSIENT:
            raise
        except Exception:
            log.exception("batch failed; retrying its events one by one", extra={"group": self.group})
        # Isolate the poison event(s) so the rest of the batch still lands.
        for delivery in list(good):
            try:
                with logs.correlation(delivery.event.get("correlationid")):
                    self.handler.handle([delivery])
            except TRANSIENT:
                raise
            except Exception as e:
                log.exception("event failed", extra={"group": self.group, "event_id": delivery.event.get("id")})
                good.remove(delivery)
                bad.append((delivery.record, f"handler failed: {type(e).__name__}: {e}"[:500]))

    def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        metrics.PROCESSING_ERRORS.labels(self.group, "poison").inc()
        metrics.DEADLETTERED.labels(self.group, record.topic).inc()
        metrics.EVENTS_CONSUMED.labels(self.group, record.topic, "deadlettered").inc()
        log.error(
            "dead-lettered an event",
            extra={
                "group": self.group,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "reason": reason,
            },
        )
        data = {
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "key": record.key.decode("utf-8", "replace") if record.key else None,
            "value_base64": base64.b64encode(record.value or b"").decode(),
            "reason": reason,
            "group": self.group,
            "failed_at": events.isoformat(events.now()),
        }
        event = events.make_event(
            "org.qc.deadletter",
            source=f"qc/{self.group}",
            subject=f"{record.topic}/{record.partition}/{record.offset}",
            data=data,
            event_id=f"{self.group}:{record.topic}:{record.partition}:{record.offset}",
        )
        self.publisher.send(TOPICS["deadletter"], record.topic, event)

    def _rewind(self, records: list[ConsumerRecord]) -> None:
        first: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            first[tp] = min(first.get(tp, r.offset), r.offset)
        for tp, offset in first.items():
            if tp in self.consumer.assignment():
                self.consumer.seek(tp, offset)

    def _update_lag(self) -> None:
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            if high is None:
                continue
            try:
                position = self.consumer.position(tp, timeout_ms=0)
            except IllegalStateError:  # revoked since assignment() was read
                continue
            if position is not None:
                metrics.CONSUMER_LAG.labels(self.group, tp.topic, str(tp.partition)).set(max(high - position, 0))

    def _tick(self) -> None:
        try:
            self.handler.tick()
        except TRANSIENT as e:
            log.warning("periodic work postponed", extra={"group": self.group, "error": repr(e)})
        except Exception:
            log.exception("periodic work failed", extra={"group": self.group})
