"""Start-up and shutdown of a service's Kafka worker process."""

from __future__ import annotations

import logging
import os
import signal
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
    """Build the handler, run the consumer loop, and shut down cleanly on SIGTERM/SIGINT."""
    settings = settings or Settings.from_env()
    logs.setup(f"{service}-worker", settings.log_level)
    db = mongo.connect(settings, f"qc-{service}-worker")
    publisher = Publisher(
        make_producer(settings, f"qc-{service}-worker"),
        source=f"qc/{service}",
        timeout=settings.kafka_ack_timeout_seconds,
    )
    handler = build(settings, db, publisher)
    loop = ConsumerLoop(settings, make_consumer(settings, group), group, handler, publisher)

    def _stop(signum, _frame):
        log.info("stopping on signal", extra={"signal": signum})
        loop.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        loop.run()
    finally:
        publisher.close()
        db.client.close()
        metrics.mark_process_dead(os.getpid(), settings.multiproc_dir)
        log.info("worker exited", extra={"group": group})
