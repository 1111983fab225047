"""Start-up and shutdown of a service's Kafka worker process."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence

from kafka import KafkaConsumer
from pymongo.database import Database

from qc import logs, metrics, mongo
from qc.consumer import ConsumerLoop
from qc.failures import is_transient
from qc.handler import Handler
from qc.kafka import Publisher, make_consumer
from qc.settings import InsecureSettings, Settings

log = logging.getLogger(__name__)


def make_probe_consumer(settings: Settings) -> KafkaConsumer:
    """A group-less consumer for reading offsets and metadata."""
    return KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, client_id="qc-probe", enable_auto_commit=False)


def run_worker(
    service: str,
    group: str,
    build: Callable[..., Handler],
    settings: Settings | None = None,
    jobs: Sequence[Callable[[Settings, Database], Callable[[], None]]] = (),
) -> None:
    """Build the handler and run the consumer loop until SIGTERM/SIGINT, then shut down cleanly.

    ``jobs`` make the service's periodic work (called between polls, e.g. its
    daily retention run) from the settings and the database.

    On the signal the loop finishes the batch in hand (its effects made
    durable, its follow-up events acknowledged, its offsets committed),
    leaves the consumer group, and the producer and database client close.
    """
    settings = settings or Settings.from_env()
    logs.setup(f"{service}-worker", settings.log_level)
    try:
        settings = settings.checked()
    except InsecureSettings as e:
        log.error("refusing to start: %s", e)
        raise SystemExit(2) from None
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
    publisher = Publisher.for_settings(settings, f"qc-{service}-worker", source=f"qc/{service}")
    try:
        handler = _build_when_available(build, settings, db, publisher, stop_requested)
        if handler is None:  # stopped while waiting for the broker or database
            return
        periodic = [make(settings, db) for make in jobs]
        loop = ConsumerLoop(settings, make_consumer(settings, group), group, handler, publisher, periodic)
        if stop_requested.is_set():
            loop.stop()
        loop.run()
    finally:
        publisher.close()
        db.client.close()
        metrics.mark_process_dead(os.getpid(), settings.multiproc_dir)
        log.info("worker exited", extra={"group": group})


def _build_when_available(build, settings: Settings, db, publisher, stop_requested: threading.Event) -> Handler | None:
    """``build`` (indexes, start-up reads), retried while the broker or database is down; None if stopped.

    A worker started during an outage waits for it to end rather than exit:
    `make run` treats an exited process as a failure of the whole stack.
    """
    backoff = 0.5
    while True:
        try:
            return build(settings, db, publisher)
        except Exception as e:
            if not is_transient(e):
                raise
            log.warning("cannot start yet: broker or database unavailable", extra={"error": repr(e)[:300]})
        if stop_requested.wait(backoff):
            return None
        backoff = min(backoff * 2, 5.0)
