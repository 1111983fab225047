"""gunicorn settings shared by the three web services (``-c python:qc_tools.gunicorn_conf``).

Graceful shutdown of a web worker, on SIGTERM (from the arbiter, `make stop`
or ``docker stop``):

1. ``/readyz`` answers 503 "shutting down" at once, while the worker goes on
   serving for ``QC_SHUTDOWN_DRAIN_SECONDS``, so whatever routes traffic by
   readiness stops sending it new requests;
2. then gunicorn's own handler runs: the worker stops accepting connections
   and finishes the requests in flight (up to ``graceful_timeout``);
3. ``worker_exit`` flushes the producer and closes the database client.
"""

import gc
import logging
import os
import signal
import threading

from qc import metrics
from qc.settings import Settings

_settings = Settings.from_env()
worker_class = "gthread"
workers = _settings.web_workers
threads = _settings.web_threads
# Each worker builds its own producer and database client after the fork
# (no preload): clients must not be shared across processes.
preload_app = False
# The drain comes out of the arbiter's grace period, so the requests in
# flight still get the full 20 s after it.
graceful_timeout = 20 + int(_settings.shutdown_drain_seconds + 0.999)
accesslog = None
# gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/
# gunicorn.ctl), so the three services (and test instances) would take it
# from each other and `gunicornc` could stop the wrong one. We stop and scale
# by signals and process count instead.
control_socket_disable = True

log = logging.getLogger("qc.shutdown")


def _start_draining(worker) -> bool:
    """Turn the worker's /readyz to 503; True the first time only."""
    app = getattr(worker, "wsgi", None)
    extensions = getattr(app, "extensions", None)
    if extensions is None or extensions.get("qc.draining"):
        return False
    extensions["qc.draining"] = True
    return True


def post_worker_init(worker):
    """Put our SIGTERM handler in front of gunicorn's: readiness goes first, then the worker stops."""
    gunicorn_exit = worker.handle_exit
    drain = max(_settings.shutdown_drain_seconds, 0.0)

    def handle_term(signum, frame):
        # Runs once per SIGTERM; `make stop` signals the whole process
        # group, so the worker gets one from there and one from the arbiter.
        if not _start_draining(worker):
            return
        log.info("shutting down: /readyz answers 503, still serving", extra={"drain_seconds": drain})
        # gthread's handler only flags the main loop and wakes it, so it is
        # safe to call from a timer thread.
        timer = threading.Timer(drain, gunicorn_exit, args=(signum, None))
        timer.daemon = True
        timer.start()

    signal.signal(signal.SIGTERM, handle_term)
    # Everything loaded so far (modules, the app, its clients) lives as long as the worker: frozen, the
    # collector stops walking it. Unfrozen, a full collection walked ~80,000 objects and held every
    # request thread of the process for ~50 ms; frozen, ~2 ms (docs/benchmarks.md, fourteenth round).
    gc.freeze()
    # From here a SIGTERM drains; one that comes earlier (the app still loading) stops the worker at once.
    log.info("web worker ready", extra={"pid": os.getpid()})


def worker_int(worker):
    """SIGINT/SIGQUIT: the quick stop; readiness turns 503 for whatever is still being answered."""
    _start_draining(worker)


def worker_abort(worker):
    """SIGABRT (the worker timed out): readiness turns 503 for what little it still answers."""
    _start_draining(worker)


def worker_exit(server, worker):
    """Deliver anything the worker's producer still holds, then close its clients."""
    _start_draining(worker)
    close = getattr(worker, "wsgi", None) and worker.wsgi.extensions.get("qc.close")
    if close:
        close()


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the multiprocess metrics."""
    metrics.mark_process_dead(worker.pid, _settings.multiproc_dir)
