"""The at-least-once consumer loop every worker runs.

poll -> decode -> handle (idempotent, durable) -> publish -> commit (at once,
or every ``commit_interval_ms`` after a flush while the handler holds state
in memory: ``Handler.holds``). An
event that cannot be read or handled goes to ``qc.deadletter`` with the
reason and the loop moves on; an outage of the broker or database is not the
event's fault, so the batch is rewound and retried with back-off instead.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Sequence

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import IllegalStateError

from qc import events, logs, metrics, signing
from qc.failures import is_transient, where
from qc.handler import Delivery, Handler
from qc.kafka import Publisher
from qc.rebalance import RebalanceListener
from qc.settings import TOPICS, Settings

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 5.0


class ConsumerLoop:
    """Runs a Handler over a consumer group until ``stop()``."""

    def __init__(
        self,
        settings: Settings,
        consumer: KafkaConsumer,
        group: str,
        handler: Handler,
        publisher: Publisher,
        jobs: Sequence[Callable[[], None]] = (),
    ):
        self.settings = settings
        self.jobs = list(jobs)  # periodic work of the service beside the handler's (e.g. retention)
        self.consumer = consumer
        self.group = group
        self.handler = handler
        self.publisher = publisher
        self._stopping = threading.Event()
        self._backoff = 0.5
        self._outage_since: float | None = None  # monotonic time of the first failure in a row
        self._rewound = False  # a batch was rewound and has not been processed since
        self._uncommitted = False  # batches handled since the last commit
        self._held_since: float | None = None  # monotonic time the handler started holding uncommitted state
        self._listener = RebalanceListener(group, handler)

    def stop(self) -> None:
        """Ask the loop to finish its current batch and return."""
        self._stopping.set()

    def run(self) -> None:
        """Poll, handle and commit until stopped; then leave the group and close."""
        metrics.initialise_consumer(self.group, self.handler.topics)
        metrics.CONSUMER_READY.labels(self.group).set(1)
        self.consumer.subscribe(self.handler.topics, listener=self._listener)
        log.info("consumer started", extra={"group": self.group, "topics": self.handler.topics})
        stopped = False
        try:
            while not self._stopping.is_set():
                # Set on every round, even a failing one: a worker that stops
                # going round (a hung handler) is what QcWorkerStuck looks for.
                metrics.mark_polled(self.group)
                try:
                    self._step()
                except Exception as e:
                    if not is_transient(e):
                        raise
                    # Broker trouble, a rebalance that took our partitions
                    # mid-batch, or the database down when asked whether to
                    # pause: nothing uncommitted is lost, the next owner
                    # (maybe us) replays it, and handlers are idempotent.
                    metrics.PROCESSING_ERRORS.labels(self.group, "transient").inc()
                    self._wait_for_infrastructure("infrastructure unavailable: poll, pause check or commit failed", e)
            stopped = True
        finally:
            # Every handled batch is committed (see _step), or, asked to stop,
            # held state is written and committed now. Not after a failure:
            # the position may then be past records nobody handled, and the
            # next owner must read them again. Closing leaves the group at
            # once so the other members take over our partitions without
            # waiting for the session timeout.
            if stopped:
                self._commit_at_exit()
            self.handler.close()
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
            max_records=self.handler.poll_records or self.settings.consumer_max_records,
        )
        self._listener.rejoin_if_stuck(self.consumer, self.handler.topics)
        self._settle_assignment()  # before handling what the new assignment fetched
        records = [r for batch in polled.values() for r in batch]
        if records and self._process(records):
            self._uncommitted = True
            self._rewound = False
            self._recovered()  # a batch went through
        elif not records and not self._rewound:
            self._recovered()  # polling works and no rewound batch is still waiting to be retried
        self._commit_when_due()
        self._update_lag()
        if not self._stopping.is_set():  # periodic work can wait for the next process
            self._tick()

    def _commit_when_due(self) -> None:
        """Commit what was handled: at once, or, while the handler holds state in memory, every
        ``commit_interval_ms`` after writing it (a crash before then replays what it held)."""
        if not self._uncommitted:
            return
        if self.handler.holds():
            now = time.monotonic()
            if self._held_since is None:
                self._held_since = now
            if now - self._held_since < self.settings.commit_interval_ms / 1000 and not self._stopping.is_set():
                return
            self.handler.flush()
            self.publisher.flush()
        self.consumer.commit()
        self.handler.committed()
        self._uncommitted, self._held_since = False, None

    def _commit_at_exit(self) -> None:
        try:
            self._commit_when_due()  # stopping: due now
        except Exception as e:  # not committed: the next owner replays it, and handlers are idempotent
            log.warning("last commit failed at exit", extra={"group": self.group, "error": where(e)})

    def _settle_assignment(self) -> None:
        """After a rebalance, tell the handler whether this member now reads every partition of its topics."""
        assigned, self._listener.assigned = self._listener.assigned, None
        if assigned is None:
            return
        owns_all = all(
            (every := self.consumer.partitions_for_topic(topic))
            and {tp.partition for tp in assigned if tp.topic == topic} == set(every)
            for topic in self.handler.topics
        )
        if owns_all:
            log.info("this member reads every partition of its topics", extra={"group": self.group})
            self.handler.partitions_changed(True)

    def _process(self, records: list[ConsumerRecord]) -> bool:
        """Handle one polled batch; False when it was rewound for a retry."""
        good, bad = [], []
        for record in records:
            try:
                event = events.decode(record.value, schemas_dir=self.settings.schemas_dir)
                # Only the directory's owner may say who people are (qc/signing.py): else dead-lettered.
                signing.verify(self.settings.secret_key, event)
                good.append(Delivery(record, event))
            except events.EventError as e:
                bad.append((record, str(e)))
        try:
            self._handle(good, bad)
            for record, reason in bad:
                self._dead_letter(record, reason)
            self.publisher.flush()
        except Exception as e:
            if not is_transient(e):
                raise
            metrics.PROCESSING_ERRORS.labels(self.group, "transient").inc()
            # Not committed, not dead-lettered: the same records are fetched
            # again after the back-off, from where this batch started.
            self._rewind(records)
            self._rewound = True
            self._wait_for_infrastructure("infrastructure unavailable; will retry the batch", e)
            return False
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
        except Exception as e:
            if is_transient(e):
                raise
            log.error("batch failed; retrying its events one by one", extra={"group": self.group, "error": where(e)})
        # Isolate the poison event(s) so the rest of the batch still lands.
        for delivery in list(good):
            try:
                with logs.correlation(delivery.event.get("correlationid")):
                    self.handler.handle([delivery])
            except Exception as e:
                if is_transient(e):
                    raise
                log.error(
                    "event failed", extra={"group": self.group, "event_id": delivery.event.get("id"), "error": where(e)}
                )
                good.remove(delivery)
                bad.append((delivery.record, f"handler failed: {where(e)}"))

    def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        metrics.PROCESSING_ERRORS.labels(self.group, "poison").inc()
        metrics.DEADLETTERED.labels(self.group, record.topic).inc()
        metrics.EVENTS_CONSUMED.labels(self.group, record.topic, "deadlettered").inc()
        at = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        log.error("dead-lettered an event", extra={"group": self.group, **at, "reason": reason})
        data = {
            **at,
            "key": record.key.decode("utf-8", "replace") if record.key else None,
            # The exact bytes, so a replay re-drives the same key (hence partition) even when not UTF-8.
            "key_base64": base64.b64encode(record.key).decode() if record.key is not None else None,
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
        for work in (self.handler.tick, *self.jobs):
            try:
                work()
            except Exception as e:
                if is_transient(e):
                    log.warning("periodic work postponed", extra={"group": self.group, "error": repr(e)})
                else:
                    log.error("periodic work failed", extra={"group": self.group, "error": where(e)})

    def _wait_for_infrastructure(self, what: str, error: BaseException) -> None:
        """Not ready: say so (once per outage, then at each back-off), and wait before trying again."""
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            metrics.CONSUMER_READY.labels(self.group).set(0)
        log.warning(
            what,
            extra={
                "group": self.group,
                "error": repr(error)[:300],
                "retry_in_seconds": self._backoff,
                "waiting_seconds": round(time.monotonic() - self._outage_since, 1),
            },
        )
        self._stopping.wait(self._backoff)
        self._backoff = min(self._backoff * 2, MAX_BACKOFF_SECONDS)

    def _recovered(self) -> None:
        self._backoff = 0.5
        if self._outage_since is not None:
            log.info(
                "infrastructure back; processing again",
                extra={"group": self.group, "waited_seconds": round(time.monotonic() - self._outage_since, 1)},
            )
            self._outage_since = None
            metrics.CONSUMER_READY.labels(self.group).set(1)
