"""Kafka clients: topic set-up, a durable producer, and the event publisher."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import (
    KafkaConnectionError,
    KafkaError,
    NodeNotReadyError,
    NotControllerError,
    TopicAlreadyExistsError,
    UnknownBrokerIdError,
)

from qc import events, metrics, topics
from qc.settings import Settings

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """The broker did not acknowledge an event in time: it is not safe."""


CREATE_TOPICS_WAIT_SECONDS = 60.0


def create_topics(settings: Settings) -> list[str]:
    """Create every topic that is missing, with the settings of qc/topics.py; return those newly made.

    Topics that exist are left as they are (kafka-configs.sh changes a topic's settings). A cluster
    that has just started may not know all its brokers, or its controller, for a few seconds: such a
    refusal is tried again, with a new client, for up to a minute.
    """
    made: list[str] = []
    deadline = time.monotonic() + CREATE_TOPICS_WAIT_SECONDS
    while True:
        try:
            made += _create_missing_topics(settings)
            return made
        except (UnknownBrokerIdError, NodeNotReadyError, NotControllerError, KafkaConnectionError) as e:
            if time.monotonic() > deadline:
                raise
            log.info("topics: the cluster is not ready yet; trying again", extra={"error": repr(e)[:200]})
            time.sleep(1.0)


def _create_missing_topics(settings: Settings) -> list[str]:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="qc-admin")
    made = []
    try:
        existing = set(admin.list_topics())
        for topic in topics.TABLE:
            if topic.name in existing:
                continue
            new = NewTopic(
                topic.name,
                settings.topic_partitions,
                settings.topic_replication_factor,
                topic_configs=topics.configs(topic, settings),
            )
            try:
                admin.create_topics([new])
                made.append(topic.name)
            except TopicAlreadyExistsError:
                pass  # another process won the race (or an earlier try made it); same outcome
        return made
    finally:
        admin.close()


def make_producer(settings: Settings, client_id: str, linger_ms: int | None = None) -> KafkaProducer:
    """A producer that only reports success once every in-sync replica has the event.

    ``linger_ms`` (default ``QC_KAFKA_LINGER_MS``): a web process waits for each
    event's acknowledgement before it answers, so it sends at once (0); a worker
    flushes a whole poll's events together, so a few milliseconds' wait fills requests.
    """
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=client_id,
        api_version=settings.kafka_api_tuple,
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.kafka_linger_ms if linger_ms is None else linger_ms,
        compression_type="gzip",
        retries=5,
        request_timeout_ms=int(settings.kafka_ack_timeout_seconds * 1000),
        max_block_ms=int(settings.kafka_ack_timeout_seconds * 1000),
    )


# What a worker fetches ahead from each partition (kafka-python's default is 1 MiB). A worker that lags
# (a replay) got full fetches of all its partitions, held decoded: 18 MiB more in the aggregation worker
# (154 MiB, over the 150 MiB target); at 128 KiB 140 MiB, and the replay's throughput stayed within the
# runs' spread (docs/benchmarks.md, fourteenth round). A batch larger than this is still fetched whole,
# alone (Kafka's KIP-74; the embedded broker does the same: tests/integration/test_consumer_fetch.py).
PARTITION_FETCH_BYTES = 128 * 1024


def make_consumer(settings: Settings, group_id: str) -> KafkaConsumer:
    """A consumer that commits by hand, after the effect is durable."""
    session_ms = settings.kafka_session_timeout_ms
    return KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group_id,
        client_id=group_id,
        api_version=settings.kafka_api_tuple,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=session_ms,
        heartbeat_interval_ms=max(session_ms // 3, 100),
        max_poll_records=settings.consumer_max_records,
        fetch_max_wait_ms=settings.consumer_fetch_wait_ms,
        max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
    )


class Publisher:
    """Sends events and, on ``flush``/``publish_sync``, waits for the broker's acknowledgement.

    Given ``remake``, a publisher whose producer keeps failing replaces it (at
    most every ``REMAKE_AFTER_SECONDS``): an idempotent producer that lost its
    producer id to a broker restart can stay in a fatal state for good. What it
    held was never acknowledged, so nothing acknowledged is lost; callers have
    already been told (503, or a batch rewound for retry).
    """

    REMAKE_AFTER_SECONDS = 5.0

    def __init__(
        self,
        producer: KafkaProducer,
        *,
        source: str,
        timeout: float,
        remake: Callable[[], KafkaProducer] | None = None,
    ):
        self.producer = producer
        self.source = source
        self.timeout = timeout
        self.remake = remake
        self.remade = 0
        self._pending = []
        self._lock = threading.Lock()
        self._failing_since: float | None = None

    @classmethod
    def for_settings(cls, settings: Settings, client_id: str, source: str, linger_ms: int | None = None) -> Publisher:
        """The services' publisher: a durable producer, remade if it breaks for good."""
        return cls(
            make_producer(settings, client_id, linger_ms),
            source=source,
            timeout=settings.kafka_ack_timeout_seconds,
            remake=lambda: make_producer(settings, client_id, linger_ms),
        )

    def send(self, topic: str, key: str, event: dict):
        """Queue one event; call ``flush`` before treating it as safe."""
        try:
            future = self.producer.send(topic, key=key.encode(), value=events.encode(event))
        except KafkaError as e:  # e.g. no metadata within max_block_ms: broker down
            self._failed()
            raise PublishError(f"broker unavailable: {e}") from e
        self._pending.append((topic, future))
        return future

    def flush(self) -> None:
        """Wait until every queued event is acknowledged, or raise PublishError."""
        pending, self._pending = self._pending, []
        try:
            self.producer.flush(timeout=self.timeout)
            for topic, future in pending:
                future.get(timeout=self.timeout)
                metrics.EVENTS_PRODUCED.labels(topic=topic).inc()
        except KafkaError as e:
            self._failed()
            raise PublishError(f"broker did not acknowledge: {e}") from e
        self._failing_since = None

    def publish_sync(self, topic: str, key: str, event: dict) -> None:
        """Send one event and wait for its acknowledgement (acks=all)."""
        try:
            future = self.producer.send(topic, key=key.encode(), value=events.encode(event))
            future.get(timeout=self.timeout)
        except KafkaError as e:
            self._failed()
            raise PublishError(f"broker did not acknowledge: {e}") from e
        self._failing_since = None
        metrics.EVENTS_PRODUCED.labels(topic=topic).inc()

    def _failed(self) -> None:
        """Note a failure; after failing for a while, swap in a new producer."""
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
            return
        if self.remake is None or now - self._failing_since < self.REMAKE_AFTER_SECONDS:
            return
        with self._lock:
            if self._failing_since is None or now - self._failing_since < self.REMAKE_AFTER_SECONDS:
                return  # another thread has just remade it
            old, self.producer = self.producer, self.remake()
            self._failing_since, self.remade = now, self.remade + 1
        log.warning("producer kept failing; made a new one", extra={"source": self.source})
        try:
            old.close(timeout=0)
        except Exception:  # closing a broken producer may fail too; the new one is in place
            log.warning("the old producer did not close cleanly", extra={"source": self.source})

    def close(self) -> None:
        """Deliver what is queued, then close (called on worker exit)."""
        try:
            self.producer.flush(timeout=self.timeout)
        finally:
            self.producer.close(timeout=self.timeout)
