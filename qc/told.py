"""Telling the others what a service changed: publish the change, then mark it told in the store.

A change is stored first (``told: false``) and marked told once the broker has its event, so a change
made while the broker is down is told by a later run, late rather than never. Each change has its own
event id: telling it twice is still one event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from qc.kafka import Publisher, PublishError

log = logging.getLogger(__name__)


def tell(publisher: Publisher, topic: str, key: str, event: dict, mark_told: Callable[[], object]) -> bool:
    """Publish one change and mark it told; False (logged) when the broker did not take it."""
    try:
        publisher.publish_sync(topic, key, event)
    except PublishError:
        log.warning("change not published yet; a later run will", extra={"topic": topic, "key": key})
        return False
    mark_told()
    return True


def tell_each(untold: Iterable, tell_one: Callable[[object], bool]) -> int:
    """Tell every change not told yet; returns how many were.

    Stops at the first the broker does not take: the caller runs on a worker's loop, and waiting out the
    acknowledgement timeout once per change would hold everything behind a broker that is down.
    """
    told = 0
    for item in untold:
        if not tell_one(item):
            break  # the next run tries again
        told += 1
    return told


class Teller:
    """Tells a store's changes on ``topic``: each as ``event_of(doc)`` keyed by its ``_id``, then ``mark_told``."""

    def __init__(self, publisher: Publisher, topic: str, event_of, mark_told, untold: Callable[[], Iterable]):
        self.publisher = publisher
        self.topic = topic
        self.event_of = event_of
        self.mark_told = mark_told
        self.untold = untold

    def __call__(self, doc: dict) -> bool:
        """Publish one change and mark it told; False (logged) when the broker did not take it."""
        return tell(self.publisher, self.topic, doc["_id"], self.event_of(doc), lambda: self.mark_told(doc))

    def tell_untold(self) -> int:
        """Publish every change not published yet, stopping at the first the broker does not take."""
        return tell_each(self.untold(), self)


class RetryJob:
    """A worker's periodic job: at most once a minute, tell what a web app could not (its broker was down).

    Its producer is made the first time there is something to tell (most runs have nothing)."""

    EVERY_SECONDS = 60.0

    def __init__(self, anything_untold: Callable[[], bool], make_teller: Callable[[], Teller]):
        self.anything_untold = anything_untold
        self.make_teller = make_teller
        self.teller: Teller | None = None
        self._last = -self.EVERY_SECONDS

    def __call__(self) -> None:
        if time.monotonic() - self._last < self.EVERY_SECONDS:
            return
        self._last = time.monotonic()
        if not self.anything_untold():
            return
        if self.teller is None:
            self.teller = self.make_teller()
        self.teller.tell_untold()
