"""Delivering alerts by e-mail: recorded first, sent (through mailer.py), and retried until sent.

A delivery is a document before it is an e-mail, so a failure (SMTP down)
leaves a visible ``failed`` record that the worker retries with back-off;
nothing is dropped. Critical and high alerts go at once; warnings and
information wait for each person's daily digest; silenced ones are kept
with status ``silenced`` (never a safeguarding alert).
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
from collections import defaultdict

from pymongo import ASCENDING

from qc import events, question_words
from qc.mongo import find_in
from services.notify import metrics as notify_metrics
from services.notify.delivery.backoff import mark_failed
from services.notify.delivery.mailer import BadAddress, Mailer
from services.notify.delivery.messages import LABELS, render
from services.notify.delivery.records import delivery_record, insert_new
from services.notify.rules import consent

log = logging.getLogger(__name__)


class Deliveries:
    """The ``deliveries`` collection and the sending of what it holds."""

    def __init__(self, db, mailer: Mailer, public_url: str):
        self.collection = db["deliveries"]
        self.sites = db["notify_sites"]
        self.contacts = db["contacts"]  # names, only of checkers who agreed to be named
        self.mailer = mailer
        self.public_url = public_url.rstrip("/")
        self._held: list[dict] | None = None  # planned inside ``held()``, not yet recorded

    @contextlib.contextmanager
    def held(self):
        """Inside: what is planned is recorded together at the end, in one round trip for a whole batch
        (an insert per alert was a fifth of the notify worker's time at 30 alerts a second)."""
        self._held = []
        try:
            yield
            insert_new(self.collection, self._held)
        finally:
            self._held = None

    def ensure_indexes(self) -> None:
        """Due deliveries, digests, and an alert's delivery log."""
        self.collection.create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)])
        self.collection.create_index([("alert_id", ASCENDING)])

    def plan(
        self, alert: dict, recipients: list[dict], purpose: str = "alert", silenced: bool = False, occasion: str = ""
    ) -> int:
        """Record one e-mail per recipient (once, even on redelivery); returns how many were new."""
        now = events.now()
        if silenced and not alert.get("safeguarding"):
            status = "silenced"
        else:
            status = "pending" if alert.get("immediate", True) or purpose in ("escalation", "reopened") else "digest"
        # One insert for all of them (a round trip each was most of notify's time: docs/benchmarks.md).
        # ``occasion`` tells apart repeats of one purpose (an alert reopened twice).
        records = [
            delivery_record(
                alert["_id"],
                f"{purpose}{occasion}",
                "email",
                ("person_id", person["_id"]),
                person["email"],
                status,
                now,
                purpose=purpose,
            )
            for person in recipients
        ]
        if self._held is not None:
            self._held.extend(records)
            made = len(records)  # at most: a repeat is skipped when they are recorded
        else:
            made = insert_new(self.collection, records)
        if not recipients:
            notify_metrics.NOTIFICATIONS.labels("email", "no_recipient").inc()
            log.warning("alert has nobody to tell yet; will try again", extra={"alert_id": alert["_id"]})
        elif status == "silenced":
            notify_metrics.NOTIFICATIONS.labels("email", "silenced").inc()
        return made

    def for_alert(self, alert_id: str) -> list[dict]:
        """The delivery log of one alert."""
        return list(self.collection.find({"alert_id": alert_id}, sort=[("created_at", ASCENDING)]))

    def send_due(self, alerts_by_ids, limit: int = 100) -> int:
        """Try every immediate delivery whose time has come; returns how many were sent."""
        now = events.now()
        due = list(
            self.collection.find(
                {"channel": "email", "status": {"$in": ["pending", "failed"]}, "next_attempt_at": {"$lte": now}},
                limit=limit,
            )
        )
        if not due:
            return 0
        # The round's alerts and their sites read together (an alert has several recipients).
        alerts = alerts_by_ids({d["alert_id"] for d in due})
        sites = find_in(self.sites, "_id", {a["site_id"] for a in alerts.values()}, projection={"name": 1})
        places = {site["_id"]: site.get("name") for site in sites}
        sent = 0
        # One SMTP connection for the lot; each e-mail is marked sent as soon as it has gone, so a
        # crash sends again at most the one e-mail in flight (at least once, never lost). Marking
        # them together at the end of the session would resend a whole session's e-mails.
        with self.mailer.session():
            for delivery in due:
                alert = alerts.get(delivery["alert_id"])
                if alert is None:
                    continue
                message = self._message(delivery, alert, places.get(alert["site_id"]) or alert["site_id"])
                sent += self._attempt([delivery], message, now)
        return sent

    def _message(self, delivery: dict, alert: dict, place: str) -> tuple[str, str, str]:
        purpose = delivery.get("purpose", "alert")
        if purpose == "response":  # "you said, we did", to a checker's supporter
            subject = f"What the managers of {place} did about something a quality checker raised"
            return render("response_email", subject, alert=alert, place=place)
        label = {"escalation": "Not acknowledged yet", "reopened": "Reopened: the checker says it is not better"}.get(
            purpose, LABELS[alert["severity"]]
        )
        subject = f"[{label}] {alert['summary']} ({place})"
        voices = consent.public_voices(alert, consent.names_for(self.contacts, [alert]), with_comments=False)
        for v in voices:
            v["question"] = (
                question_words.text(v["question_id"]) if v["question_id"] else "Something they are worried about"
            )
        return render(
            "alert_email",
            subject,
            alert=alert,
            label=label,
            place=place,
            escalation=purpose == "escalation",
            reopened=purpose == "reopened",
            voices=voices,
            link=self.link(alert["_id"]),
        )

    def send_digests(self, alerts_by_id) -> tuple[int, int]:
        """One e-mail per person listing every alert waiting for their digest; returns (sent, failed)."""
        now = events.now()
        waiting = defaultdict(list)
        for delivery in self.collection.find(
            {"channel": "email", "status": "digest", "next_attempt_at": {"$lte": now}}
        ):
            waiting[delivery["address"]].append(delivery)
        sent = failed = 0
        for deliveries in waiting.values():
            items = []
            for delivery in deliveries:
                alert = alerts_by_id(delivery["alert_id"])
                if alert is not None:
                    site = self.sites.find_one({"_id": alert["site_id"]}) or {}
                    items.append(
                        {
                            "alert": alert,
                            "place": site.get("name") or alert["site_id"],
                            "label": LABELS[alert["severity"]],
                            "link": self.link(alert["_id"]),
                        }
                    )
            subject = f"Your daily quality checks summary: {len(items)} thing(s) to look at"
            ok = self._attempt(deliveries, render("digest_email", subject, items=items), now, channel="digest")
            sent, failed = sent + ok, failed + (1 - ok)
        return sent, failed

    def _mark_sent(self, ids: list[str]) -> None:
        if ids:
            self.collection.update_many(
                {"_id": {"$in": ids}},
                {"$set": {"status": "sent", "sent_at": events.now(), "last_error": None}, "$inc": {"attempts": 1}},
            )

    def _attempt(self, deliveries: list[dict], message: tuple[str, str, str], now, channel: str = "email") -> int:
        subject, text, html = message
        try:
            self.mailer.send(deliveries[0]["address"], subject, text, html)
        except (smtplib.SMTPException, OSError, BadAddress) as e:
            # Recorded and retried with back-off, like any failed send; the batch goes on with the others.
            for delivery in deliveries:
                mark_failed(self.collection, delivery, f"{type(e).__name__}: {e}", now)
            notify_metrics.NOTIFICATIONS.labels(channel, "failed").inc()
            log.warning("e-mail not delivered; will retry", extra={"deliveries": len(deliveries)})
            return 0
        self._mark_sent([d["_id"] for d in deliveries])
        notify_metrics.NOTIFICATIONS.labels(channel, "sent").inc()
        return 1

    def link(self, alert_id: str) -> str:
        """Where the alert is read and answered."""
        return f"{self.public_url}/manager/alerts/{alert_id}"
