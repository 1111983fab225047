"""The outbox's watch: publishes again what a broker that lost its log lost, and lets go of what is consumed.

Which kept events (outbox.py) are still needed is known from offsets, not
guessed from timings: a *checkpoint* notes the end offsets of every topic the
pipeline reads. Once each consumer group has committed past its topics'
checkpoint ends, everything acknowledged before the checkpoint was taken has
had all its effects, so the ten minutes kept before then (less the longest a
publish may take) are dropped. When the log's ends go back below the highest
ever seen, the broker lost events: every event kept since the last safe point
is published again with its original id.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError
from pymongo.database import Database

from qc import events
from qc.failures import where
from qc.kafka import Publisher
from qc.settings import GROUP_TOPICS, TOPICS, Settings
from services.checks import metrics as checks_metrics
from services.checks.stores.outbox import Outbox

log = logging.getLogger(__name__)
STATE = "outbox_state"  # one document: the checkpoint and the time up to which everything has been consumed
REQUEST_TIMEOUT_MS = 10_000  # a look gives up on a broker that does not answer, rather than wait minutes
WATCH_EVERY_SECONDS = 3.0  # a few small requests to the broker (and rarely a write) each time


class OutboxWatch:
    """Beside the checks worker, every few seconds: republish what a lost log lost, forget what is consumed.

    Any member of the checks group may run it; two doing the same republish
    only send repeats, which the pipeline drops.
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        publisher=None,
        every: float = WATCH_EVERY_SECONDS,
        groups: dict[str, tuple[str, ...]] = GROUP_TOPICS,
    ):
        self.settings = settings
        self.groups = groups  # which consumer groups must have read which topics
        self.outbox = Outbox(db)
        self.state = db[STATE]
        self.publisher = publisher  # None: one of its own, made when there is something to publish again
        self.every = every
        # A check kept at t was acknowledged by t + this at the latest (its claim waits as long: intake.py).
        self.margin = dt.timedelta(seconds=2 * settings.kafka_ack_timeout_seconds + 1)
        # Set by the worker when it found the directory topic empty at start (it publishes it again): on the
        # embedded broker that means its log was lost, however few events the last look had seen.
        self.log_lost_at_start = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Look now and every few seconds on a thread of its own: a look asks the broker things that can
        wait for as long as it is away, and the validator's loop must not wait with it."""
        self._thread = threading.Thread(target=self._run, name="outbox-watch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop looking (worker exit)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _run(self) -> None:
        wait = 0.0
        while not self._stopping.wait(wait):
            wait = self.every
            try:
                self.check()
            except Exception as e:  # the broker or database away: the next look tries again
                log.warning("outbox: look postponed", extra={"error": where(e)})

    def check(self) -> str:
        """One look; what it found: "lost", "consumed", "waiting" or "first"."""
        read_at, ends = self._end_offsets()
        saved = self.state.find_one({"_id": "checkpoint"})
        if saved is None:
            self.log_lost_at_start = False  # nothing was kept before this first look
            self._save(read_at, ends, safe_since=None)
            return "first"
        # The highest end offsets seen by any look: the log has gone back if it is now below one.
        seen = _offsets(saved["seen"])
        went_back = sorted(f"{tp.topic}[{tp.partition}]" for tp, offset in seen.items() if ends.get(tp, 0) < offset)
        if self.log_lost_at_start:
            went_back.append(f"{TOPICS['directory']} (empty when the worker started)")
        if went_back:
            self._republish(saved["safe_since"], went_back)
            self.log_lost_at_start = False
            self._save(*self._end_offsets(), safe_since=saved["safe_since"])
            return "lost"
        if not self._consumed(_offsets(saved["ends"])):
            if ends != seen:
                self.state.update_one({"_id": "checkpoint"}, {"$set": {"seen": _listed(ends)}})
            return "waiting"
        safe_since = saved["taken_at"]
        forgotten = self.outbox.forget_before(safe_since - self.margin)
        if forgotten:
            log.info("outbox: consumed events forgotten", extra={"collections": forgotten})
        self._save(read_at, ends, safe_since=safe_since)
        return "consumed"

    def _republish(self, safe_since: dt.datetime | None, went_back: list[str]) -> None:
        since = None if safe_since is None else safe_since - self.margin
        kept = self.outbox.kept_since(since)
        log.warning(
            "the broker's log went back: it lost events; publishing the kept checks again",
            extra={
                "partitions": went_back,
                "checks": len(kept),
                "kept_since": events.isoformat(since) if since else None,
            },
        )
        publisher = self.publisher or Publisher.for_settings(self.settings, "qc-outbox", source="qc/checks/intake")
        try:
            for doc in kept:
                publisher.send(TOPICS["received"], doc["site_id"], doc["event"])
            publisher.flush()
        finally:
            if publisher is not self.publisher:
                publisher.close()
        checks_metrics.OUTBOX_REPUBLISHED.inc(len(kept))
        checks_metrics.BROKER_LOG_LOST.inc()

    def _consumed(self, checkpoint: dict[TopicPartition, int]) -> bool:
        """True when every group has committed at least up to the checkpoint's ends on every topic it reads."""
        # A new client each time, as for the ends: one connected to a broker that has restarted may hang on.
        admin = KafkaAdminClient(
            bootstrap_servers=self.settings.kafka_bootstrap,
            client_id="qc-outbox",
            request_timeout_ms=REQUEST_TIMEOUT_MS,
            api_version=self.settings.kafka_api_tuple,  # named: probing waits 30 s when the broker is away
        )
        try:
            for group, topics in self.groups.items():
                wanted = [tp for tp in checkpoint if tp.topic in topics and checkpoint[tp] > 0]
                if not wanted:
                    continue
                try:
                    committed = admin.list_group_offsets({group: wanted}).get(group, {})
                except KafkaError:  # e.g. no group coordinator yet on a new cluster: not known to be read
                    return False
                for tp in wanted:
                    done = committed.get(tp)
                    if done is None or done.offset < checkpoint[tp]:
                        return False
            return True
        finally:
            admin.close()

    def _end_offsets(self) -> tuple[dt.datetime, dict[TopicPartition, int]]:
        """When they were read (just before), and the end offset of every partition the pipeline reads.

        From a fetch's high watermark, not ListOffsets alone: the embedded broker answers ListOffsets
        with the first offset of a partition's last batch, short of the end by the rest of the batch.
        """
        read_at = events.now()
        # A new consumer each time: one that has fetched before keeps its old high watermarks.
        # fetch_max_wait_ms: an empty partition answers at once, not after the default half second.
        probe = KafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            client_id="qc-outbox",
            enable_auto_commit=False,
            fetch_max_wait_ms=10,
            request_timeout_ms=REQUEST_TIMEOUT_MS,
            api_version=self.settings.kafka_api_tuple,
        )
        try:
            topics = sorted({t for topics in self.groups.values() for t in topics})
            partitions = [TopicPartition(t, p) for t in topics for p in probe.partitions_for_topic(t) or ()]
            if not partitions:
                return read_at, {}
            listed = probe.end_offsets(partitions)
            probe.assign(partitions)
            for tp in partitions:
                probe.seek(tp, listed[tp])  # only the last batch is fetched (and dropped)
            deadline = time.monotonic() + 5
            while any(probe.highwater(tp) is None for tp in partitions):
                if time.monotonic() > deadline:
                    raise KafkaTimeoutError("no high watermark from the broker within 5 s")
                probe.poll(timeout_ms=50)
            return read_at, {tp: max(probe.highwater(tp), listed[tp]) for tp in partitions}
        finally:
            probe.close()

    def _save(self, taken_at: dt.datetime, ends: dict[TopicPartition, int], safe_since: dt.datetime | None) -> None:
        """A new checkpoint: these ends, read at ``taken_at``; everything kept before ``safe_since`` has been read."""
        doc = {"ends": _listed(ends), "seen": _listed(ends), "taken_at": taken_at, "safe_since": safe_since}
        self.state.replace_one({"_id": "checkpoint"}, doc, upsert=True)


def _listed(ends: dict[TopicPartition, int]) -> list[list]:
    """Offsets as stored: a list, not a map (topic names hold dots, which field names should not)."""
    return [[tp.topic, tp.partition, offset] for tp, offset in sorted(ends.items())]


def _offsets(listed: list[list]) -> dict[TopicPartition, int]:
    return {TopicPartition(topic, partition): offset for topic, partition, offset in listed}
