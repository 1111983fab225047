"""A gentle reminder a few days before a site's check is due (qc/schedules.py).

Each active checker of the site gets an e-mail; a checker without an address is reminded through their
supporter. Once per checker and due day, whichever process or run sends it: the ``notify_reminders``
record is made before the e-mail goes (its unique ``_id`` is the claim) and taken back if sending fails,
so the next run tries again.
"""

from __future__ import annotations

import datetime as dt
import logging

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from qc import events, schedules
from qc.dates import day_words
from services.notify import metrics as notify_metrics
from services.notify.delivery.messages import render
from services.notify.rules.board import first_name

log = logging.getLogger(__name__)


class Reminders:
    """The ``notify_reminders`` collection: one record per checker and due day reminded of."""

    def __init__(self, db: Database):
        self.collection = db["notify_reminders"]

    def claim(self, checker_id: str, due_on: dt.date) -> bool:
        """True for the one run that may send this reminder."""
        try:
            self.collection.insert_one({"_id": f"{checker_id}:{due_on.isoformat()}", "at": events.now()})
        except DuplicateKeyError:
            return False
        return True

    def release(self, checker_id: str, due_on: dt.date) -> None:
        """Not sent after all: the next run tries again."""
        self.collection.delete_one({"_id": f"{checker_id}:{due_on.isoformat()}"})


def send_due(knowledge, sites: list, intervals: dict, reminders: Reminders, mailer, url: str, today: dt.date) -> int:
    """Remind the checkers of every site whose check is due within a few days; returns how many were sent."""
    sent = 0
    for site in sites:
        due = schedules.due(site, intervals)
        if due is None or not due.remind_today(today):
            continue
        place = site.get("name") or site["_id"]
        for checker in knowledge.checkers_at(site["_id"]):
            to_supporter = not checker.get("email")
            address = checker.get("supporter_email") if to_supporter else checker["email"]
            if not address or not reminders.claim(checker["_id"], due.on):
                continue
            subject = (
                f"A quality check at {place} is due on {day_words(due.on)}"
                if to_supporter
                else f"Your next quality check is due on {day_words(due.on)}"
            )
            message = render(
                "check_reminder",
                subject,
                place=place,
                due_words=day_words(due.on),
                first_name=first_name(checker.get("name")),
                to_supporter=to_supporter,
                checks_url=url,
            )
            try:
                mailer.send(address, *message)
            except OSError:  # smtplib's errors are OSErrors too
                reminders.release(checker["_id"], due.on)
                notify_metrics.NOTIFICATIONS.labels("reminder", "failed").inc()
                log.warning("check reminder not sent; will retry", extra={"site_id": site["_id"]})
                continue
            notify_metrics.NOTIFICATIONS.labels("reminder", "sent").inc()
            sent += 1
    return sent
