"""Retention: when old submissions lose their free text and checker identity, and the record that it happened.

Each service anonymises its own copies (``services/<name>/retention.py``);
this module holds what they share: the cut-off from ``QC_RETENTION_DAYS``,
the ``retention_log`` of runs (counts only, never content), and the daily
schedule a worker runs them on.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable

from pymongo import DESCENDING
from pymongo.database import Database

from qc import events
from qc.settings import Settings

log = logging.getLogger(__name__)
LOG_COLLECTION = "retention_log"
ASK_EVERY_SECONDS = 60.0  # how often a worker looks whether a run is due (one small read)


def cutoff(settings: Settings, now: dt.datetime | None = None) -> dt.datetime | None:
    """Submissions received before this moment are anonymised; None when retention is off (0 days)."""
    if settings.retention_days <= 0:
        return None
    return (now or events.now()) - dt.timedelta(days=settings.retention_days)


def record(db: Database, service: str, limit: dt.datetime, counts: dict[str, int], dry_run: bool) -> None:
    """Note that ``service`` ran its retention (or a dry run), with how many records of each kind it changed."""
    db[LOG_COLLECTION].insert_one(
        {
            "_id": str(uuid.uuid4()),
            "service": service,
            "at": events.now(),
            "cutoff": limit,
            "counts": counts,
            "dry_run": dry_run,
        }
    )
    log.info("retention ran", extra={"service": service, "counts": counts, "dry_run": dry_run})


def last_run(db: Database, service: str) -> dt.datetime | None:
    """When ``service`` last ran its retention for real, or None."""
    doc = db[LOG_COLLECTION].find_one({"service": service, "dry_run": False}, sort=[("at", DESCENDING)])
    return doc["at"] if doc else None


class Periodic:
    """A worker's tick job: run the service's retention when its last recorded run is older than the interval.

    The time of the last run is read from ``retention_log``, so a restarted
    worker does not run it again, and several workers of a service rarely
    do (a second run would change nothing: retention is idempotent). The run
    itself goes on a thread of its own: on a large store it may take a while,
    and the consumer loop must keep polling meanwhile (or lose its partitions).
    """

    def __init__(self, settings: Settings, db: Database, service: str, run: Callable[..., dict]):
        self.settings = settings
        self.db = db
        self.service = service
        self.run = run
        self._asked = -ASK_EVERY_SECONDS
        self._thread: threading.Thread | None = None

    def __call__(self) -> None:
        """Run if due; cheap when not (at most one read a minute)."""
        if self.settings.retention_days <= 0 or self.settings.retention_interval_seconds <= 0:
            return
        if time.monotonic() - self._asked < ASK_EVERY_SECONDS or (self._thread and self._thread.is_alive()):
            return
        self._asked = time.monotonic()
        last = last_run(self.db, self.service)
        if last is not None and (events.now() - last).total_seconds() < self.settings.retention_interval_seconds:
            return
        self._thread = threading.Thread(target=self._run, name=f"retention-{self.service}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.run(self.db, self.settings)
        except Exception:  # tried again at the next look, a minute on: every step is idempotent
            log.exception("retention failed; will try again", extra={"service": self.service})
