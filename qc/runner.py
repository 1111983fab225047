"""Start-up and shutdown of a service's Kafka worker process."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable

from kafka import KafkaConsumer

from qc import logs, metrics, mongo
from qc.consumer import ConsumerLoop, Handler
from qc.kafka import Publisher, make_consumer, make_producer
from qc.settings import Settings

log = logging.getLogger(__name__)


def make_probe_consumer(settings: Settings) -> KafkaConsumer:
    """A group-less consumer for reading offsets and metadata."""
    return KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, client_id="qc-probe", enable_auto_commit=False)


def run_worker(service: str, group: str, build: Callable[..., Handler], settings: Settings | None = None) -> None:
    """Build the handler and run the consumer loop until SIGTERM/SIGINT, then shut down cleanly.

    On the signal the loop finishes the batch in hand (its effects made
    durable, its follow-up events acknowledged, its offsets committed),
    leaves the consumer group, and the producer and database client close.
    """
    settings = settings or Settings.from_env()
    logs.setup(f"{service}-worker", settings.log_level)
    # Installed before anything slow, so a SIGTERM during start-up is not
    # fatal: the loop then stops before its first poll.
    stop_requested = threading.Event()
    loop: ConsumerLoop | None = None

    def _stop(signum, _frame):
        if not stop_requested.is_set():
            log.info("stopping on signal: finishing the batch in hand", extra={"signal": signum})
        stop_requested.set()
        if loop is not None:
            loop.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    db = mongo.connect(settings, f"qc-{service}-worker")
    publisher = Publisher(
        make_producer(settings, f"qc-{service}-worker"),
        source=f"qc/{service}",
        timeout=settings.kafka_ack_timeout_seconds,
    )
    try:
        handler = build(settings, db, publisher)
        loop = ConsumerLoop(settings, make_consumer(settings, group), group, handler, publisher)
        if stop_requested.is_set():
            loop.stop()
        loop.run()
    finally:
        publisher.close()
        db.client.close()
        metrics.mark_process_dead(os.getpid(), settings.multiproc_dir)
        log.info("worker exited", extra={"group": group})
