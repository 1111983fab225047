"""gunicorn settings shared by the three web services (``-c python:qc.gunicorn_conf``)."""

import os

from qc import metrics
from qc.settings import Settings

_settings = Settings.from_env()
worker_class = "gthread"
workers = _settings.web_workers
threads = _settings.web_threads
# Each worker builds its own producer and database client after the fork
# (no preload): clients must not be shared across processes.
preload_app = False
graceful_timeout = 20
accesslog = None


def worker_exit(server, worker):
    """Deliver anything the worker's producer still holds before it goes."""
    close = getattr(worker, "wsgi", None) and worker.wsgi.extensions.get("qc.close")
    if close:
        close()


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the multiprocess metrics."""
    metrics.mark_process_dead(worker.pid, os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
