"""Pausing the aggregation workers while a replay rebuilds their collections.

The replay sets ``pause``; every live worker notices between batches, pauses
its partitions and says so in ``agg_workers``; the replay waits for all of
them before it reads the topic, so nothing a worker writes can be lost in
the switch-over. Workers resume where their committed offsets are.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time

from pymongo.database import Database

from qc import events

HEARTBEAT_SECONDS = 1.0
LIVE_SECONDS = 15.0  # a worker silent for longer is taken to be gone


class ReplayControl:
    """The ``agg_control`` switch and the ``agg_workers`` heartbeats."""

    def __init__(self, db: Database):
        self.control = db["agg_control"]
        self.workers = db["agg_workers"]
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self._last_beat = 0.0
        self._pause = False

    def worker_should_pause(self) -> bool:
        """Called by a worker between batches: read the switch (at most once a second) and report."""
        if time.monotonic() - self._last_beat >= HEARTBEAT_SECONDS:
            doc = self.control.find_one({"_id": "replay"}) or {}
            self._pause = bool(doc.get("pause"))
            self.workers.replace_one(
                {"_id": self.worker_id},
                {"_id": self.worker_id, "paused": self._pause, "seen_at": events.now()},
                upsert=True,
            )
            self._last_beat = time.monotonic()
        return self._pause

    def request_pause(self) -> dt.datetime:
        """Ask every worker to pause; returns when asked."""
        asked = events.now()
        self.control.replace_one({"_id": "replay"}, {"_id": "replay", "pause": True, "asked_at": asked}, upsert=True)
        return asked

    def all_paused(self, asked: dt.datetime) -> bool:
        """True when every live worker has reported itself paused since ``asked``."""
        live_since = events.now() - dt.timedelta(seconds=LIVE_SECONDS)
        live = list(self.workers.find({"seen_at": {"$gte": live_since}}))
        return all(w["paused"] and w["seen_at"] >= asked for w in live)

    def resume(self) -> None:
        """Let the workers go on."""
        self.control.replace_one({"_id": "replay"}, {"_id": "replay", "pause": False}, upsert=True)
