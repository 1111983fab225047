"""Delivering alerts by e-mail: recorded first, sent, and retried until sent.

A delivery is a document before it is an e-mail, so a failure (SMTP down)
leaves a visible ``failed`` record that the worker retries with back-off;
nothing is dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from email.message import EmailMessage
from urllib.parse import urlparse

from jinja2 import Environment, PackageLoader, select_autoescape
from pymongo.errors import DuplicateKeyError

from qc import events
from services.notify import metrics as notify_metrics

log = logging.getLogger(__name__)
_templates = Environment(loader=PackageLoader("services.notify", "templates"), autoescape=select_autoescape(["html"]))
MAX_BACKOFF_SECONDS = 3600


class Mailer:
    """Sends one message per call over SMTP (plain text with an HTML alternative)."""

    def __init__(self, smtp_url: str, sender: str, timeout: float):
        parsed = urlparse(smtp_url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 25
        self.use_tls = parsed.scheme == "smtps"
        self.username, self.password = parsed.username, parsed.password
        self.sender, self.timeout = sender, timeout

    def send(self, to: str, subject: str, text: str, html: str) -> None:
        """Send or raise (smtplib.SMTPException / OSError)."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        smtp_class = smtplib.SMTP_SSL if self.use_tls else smtplib.SMTP
        with smtp_class(self.host, self.port, timeout=self.timeout) as smtp:
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


def render_alert_email(alert: dict, site_name: str | None, link: str) -> tuple[str, str, str]:
    """(subject, text, html) in plain words; no free text from the checker leaves the system."""
    label = {"critical": "Urgent", "high": "Important", "warning": "Please look", "info": "For information"}[
        alert["severity"]
    ]
    place = site_name or alert["site_id"]
    subject = f"[{label}] {alert['summary']} ({place})"
    context = {"alert": alert, "label": label, "place": place, "link": link}
    return (
        subject,
        _templates.get_template("alert_email.txt").render(context),
        _templates.get_template("alert_email.html").render(context),
    )


class Deliveries:
    """The ``deliveries`` collection and the sending of what it holds."""

    def __init__(self, db, mailer: Mailer, public_url: str):
        self.collection = db["deliveries"]
        self.sites = db["notify_sites"]
        self.mailer = mailer
        self.public_url = public_url.rstrip("/")

    def plan(self, alert: dict, recipients: list[dict]) -> None:
        """Record one pending e-mail per recipient (once, even on redelivery)."""
        now = events.now()
        for person in recipients:
            try:
                self.collection.insert_one(
                    {
                        "_id": f"{alert['_id']}:email:{person['_id']}",
                        "alert_id": alert["_id"],
                        "channel": "email",
                        "person_id": person["_id"],
                        "address": person["email"],
                        "status": "pending",
                        "attempts": 0,
                        "created_at": now,
                        "next_attempt_at": now,
                        "last_error": None,
                    }
                )
            except DuplicateKeyError:
                pass
        if not recipients:
            notify_metrics.NOTIFICATIONS.labels("email", "no_recipient").inc()
            log.warning("alert has nobody to tell yet; will try again", extra={"alert_id": alert["_id"]})

    def send_due(self, alerts_by_id, limit: int = 100) -> int:
        """Try every delivery whose time has come; returns how many were sent."""
        now = events.now()
        sent = 0
        due = self.collection.find(
            {"status": {"$in": ["pending", "failed"]}, "next_attempt_at": {"$lte": now}}, limit=limit
        )
        for delivery in due:
            alert = alerts_by_id(delivery["alert_id"])
            if alert is None:
                continue
            site = self.sites.find_one({"_id": alert["site_id"]}) or {}
            subject, text, html = render_alert_email(
                alert, site.get("name"), f"{self.public_url}/api/v1/alerts/{alert['_id']}"
            )
            try:
                self.mailer.send(delivery["address"], subject, text, html)
            except (smtplib.SMTPException, OSError) as e:
                attempts = delivery["attempts"] + 1
                backoff = min(2**attempts * 5, MAX_BACKOFF_SECONDS)
                self.collection.update_one(
                    {"_id": delivery["_id"]},
                    {
                        "$set": {
                            "status": "failed",
                            "attempts": attempts,
                            "last_error": f"{type(e).__name__}: {e}"[:300],
                            "next_attempt_at": now + dt.timedelta(seconds=backoff),
                        }
                    },
                )
                notify_metrics.NOTIFICATIONS.labels("email", "failed").inc()
                log.warning("e-mail not delivered; will retry", extra={"alert_id": alert["_id"], "attempts": attempts})
                continue
            self.collection.update_one(
                {"_id": delivery["_id"]},
                {
                    "$set": {
                        "status": "sent",
                        "attempts": delivery["attempts"] + 1,
                        "sent_at": events.now(),
                        "last_error": None,
                    }
                },
            )
            notify_metrics.NOTIFICATIONS.labels("email", "sent").inc()
            sent += 1
        return sent
