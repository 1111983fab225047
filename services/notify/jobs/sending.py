"""E-mails and webhooks go out on their own thread, never on the consumer loop.

An SMTP server or a webhook that is slow or down would otherwise hold up
every alert behind it: the loop plans each delivery (a record in
``deliveries``) and returns to publish ``alert.raised``; this thread sends
what is due when woken after each committed batch, and at least every
``interval`` seconds for retries. A delivery is marked sent as soon as it has
gone (delivery.py), so a crash sends again at most the one in flight.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from qc.failures import is_transient, where

log = logging.getLogger(__name__)


def send_due(deliveries, webhooks, alerts_by_ids: Callable[[set[str]], dict[str, dict]]) -> None:
    """Send every e-mail (``Deliveries``) and webhook (``Webhooks``, may be None) whose time has come.

    ``alerts_by_ids`` reads the alerts of a round together (``AlertStore.get_many``): one look-up per
    round, not one per delivery (a fifth of the database's requests at 100 checks a second).
    """
    deliveries.send_due(alerts_by_ids)
    if webhooks:
        webhooks.send_due(alerts_by_ids)


class Sender:
    """Runs ``send_due`` on a thread of its own: when woken, and every ``interval`` seconds."""

    def __init__(self, send_due: Callable[[], None], interval: float = 1.0):
        self.send_due = send_due
        self.interval = interval
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notify-sender", daemon=True)

    def start(self) -> Sender:
        """Start the thread (once)."""
        self._thread.start()
        return self

    def wake(self) -> None:
        """Something may be due now (a batch was committed)."""
        self._wake.set()

    def stop(self, timeout: float = 15.0) -> None:
        """Finish the sending in hand, then stop."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.send_due()
            except Exception as e:  # never let the thread die: the next round tries again
                if is_transient(e):
                    log.warning("sending postponed: database unavailable", extra={"error": repr(e)[:300]})
                else:
                    log.error("sending failed", extra={"error": where(e)})
