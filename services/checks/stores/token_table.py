"""Checker sign-in tokens held in memory, so a request costs no database read.

Every checks process keeps the live token records it has read. What makes a
held record wrong is a link being stopped (a lost phone, a deactivated
checker), so every stop bumps one shared counter (qc.generations); each
process reads that counter at most every ``refresh_seconds`` and drops
everything it holds when it has moved. So a stopped link stops at
once in the process that stopped it and within ``refresh_seconds`` in every
other one, at the cost of one read by ``_id`` per process per refresh
instead of one per request. The whole table is read at once (a few thousand
small records), on first use and after each stop, so a checker's first
request of the day costs no read either. Stops are rare; issuing a link needs
no bump, as a token not held is read from the database on first use.
"""

from __future__ import annotations

import threading
import time

from pymongo.collection import Collection

from qc.generations import Generation


class TokenTable:
    """Live token records by hash, for one process (thread-safe)."""

    def __init__(self, tokens: Collection, stops: Generation, refresh_seconds: float = 0.5, clock=time.monotonic):
        self.tokens = tokens
        self.stops = stops
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._held: dict[str, dict] = {}
        self._generation: int | None = None  # the shared counter when last read
        self._checked_at = float("-inf")
        self._epoch = 0  # bumped here at every drop, so a read that raced a drop is not kept
        self._loaded_epoch: int | None = None  # the epoch whose whole table has been read

    def live(self, token_hash: str) -> dict | None:
        """The live record for a token hash (held, or read and then held), or None."""
        self._follow_stops()
        with self._lock:
            record = self._held.get(token_hash)
            epoch = self._epoch
            load = self._loaded_epoch != epoch
        if load and self._load_all(epoch):
            with self._lock:
                return self._held.get(token_hash)  # just read whole: not there is not live
        if record is not None:
            return record
        record = self.tokens.find_one({"_id": token_hash, "revoked_at": None})  # a link made since the load
        if record is not None:
            with self._lock:
                if epoch == self._epoch:  # no stop seen while it was read: it was live after that stop
                    self._held[token_hash] = record
        return record

    def _load_all(self, epoch: int) -> bool:
        """Hold every live token; False when a stop was seen meanwhile (nothing kept)."""
        every = {d["_id"]: d for d in self.tokens.find({"revoked_at": None})}
        with self._lock:
            if epoch != self._epoch:  # a stop was seen while it was read
                return False
            self._held.update(every)
            self._loaded_epoch = epoch
            return True

    def used(self, token_hash: str, at) -> None:
        """Note a use already written to the database, so it is not written again today."""
        with self._lock:
            if token_hash in self._held:
                self._held[token_hash] = {**self._held[token_hash], "used_at": at}

    def stopped(self) -> None:
        """Links were stopped (call after the database says so): drop what is held here and tell the others."""
        self.stops.bump()
        self.forget()

    def _follow_stops(self) -> None:
        now = self.clock()
        if now - self._checked_at < self.refresh_seconds:
            return
        self._checked_at = now
        generation = self.stops.read()
        if generation != self._generation:
            self.forget()
            self._generation = generation

    def forget(self) -> None:
        """Drop every record held here; the next use of each token reads it again."""
        with self._lock:
            self._held.clear()
            self._epoch += 1
