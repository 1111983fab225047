"""Signed webhooks: each alert POSTed to the configured endpoints, retried with back-off, logged.

The body is the ``org.qc.alert.raised`` event. ``X-QC-Signature`` is
``sha256=`` + HMAC-SHA256 over ``<X-QC-Timestamp>.<body>`` with the hook's
secret, so a receiver can check both origin and freshness.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import time
from pathlib import Path
from urllib.parse import urlparse

import requests
import yaml

from qc import events
from qc.settings import Settings
from services.notify import metrics as notify_metrics
from services.notify.delivery.backoff import mark_failed
from services.notify.delivery.records import delivery_record, record_once
from services.notify.rules import consent
from services.notify.stores import lifecycle

log = logging.getLogger(__name__)


class WebhooksError(ValueError):
    """The webhooks file is wrong or a secret is missing."""


@dataclasses.dataclass(frozen=True)
class Hook:
    id: str
    url: str
    secret: str
    severities: tuple[str, ...]
    regions: tuple[str, ...]

    def wants(self, alert: dict) -> bool:
        """Whether this hook takes this alert."""
        return (not self.severities or alert["severity"] in self.severities) and (
            not self.regions or alert["region_id"] in self.regions
        )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-QC-Signature`` value for a body."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def load_hooks(path: Path, secrets: dict[str, str]) -> list[Hook]:
    """Read deploy/webhooks.yaml; every hook needs a secret in QC_WEBHOOK_SECRETS."""
    if not Path(path).exists():
        return []
    doc = yaml.safe_load(Path(path).read_text()) or {}
    hooks = []
    for i, raw in enumerate(doc.get("webhooks") or []):
        hook_id, url = raw.get("id"), raw.get("url", "")
        if not hook_id or not _safe_url(url):
            raise WebhooksError(
                f"{path}: webhooks[{i}] needs an 'id' and an https 'url' (http only to this machine, for testing)"
            )
        if hook_id not in secrets:
            raise WebhooksError(
                f"{path}: webhook {hook_id!r} has no secret; add '{hook_id}=<secret>' to QC_WEBHOOK_SECRETS"
            )
        match = raw.get("match") or {}
        hooks.append(
            Hook(hook_id, url, secrets[hook_id], tuple(match.get("severity", [])), tuple(match.get("region_id", [])))
        )
    return hooks


def _safe_url(url: str) -> bool:
    """https, or plain http to this machine only: an alert must not cross a network unencrypted."""
    parsed = urlparse(url)
    if parsed.scheme == "https" and parsed.hostname:
        return True
    return parsed.scheme == "http" and parsed.hostname in ("127.0.0.1", "localhost", "::1")


class Webhooks:
    """Plans and sends webhook deliveries (the ``deliveries`` collection, channel ``webhook``)."""

    def __init__(self, db, hooks: list[Hook], timeout: float = 5.0):
        self.collection = db["deliveries"]
        self.contacts = db["contacts"]  # for the names of checkers who agreed to be named
        self.hooks = hooks
        self.timeout = timeout

    @classmethod
    def load(cls, db, settings: Settings) -> Webhooks:
        """From the settings' webhooks file and secrets."""
        return cls(db, load_hooks(settings.webhooks_path, settings.webhook_secret_map))

    def ensure_indexes(self) -> None:
        """Shared with e-mail deliveries (see Deliveries.ensure_indexes)."""

    def plan(self, alert: dict, silenced: bool = False) -> None:
        """One pending delivery per hook that wants this alert."""
        now = events.now()
        status = "silenced" if silenced and not alert.get("safeguarding") else "pending"
        for hook in self.hooks:
            if hook.wants(alert):
                record = delivery_record(alert["_id"], "alert", "webhook", ("hook_id", hook.id), hook.url, status, now)
                record_once(self.collection, record)

    def send_due(self, alerts_by_ids, limit: int = 50) -> int:
        """POST every due webhook delivery; returns how many succeeded."""
        if not self.hooks:
            return 0
        hooks = {h.id: h for h in self.hooks}
        now = events.now()
        sent = 0
        due = list(
            self.collection.find(
                {"channel": "webhook", "status": {"$in": ["pending", "failed"]}, "next_attempt_at": {"$lte": now}},
                limit=limit,
            )
        )
        alerts = alerts_by_ids({d["alert_id"] for d in due}) if due else {}
        for delivery in due:
            alert, hook = alerts.get(delivery["alert_id"]), hooks.get(delivery["hook_id"])
            if alert is None or hook is None:
                continue
            names = consent.names_for(self.contacts, [alert])
            body = json.dumps(
                lifecycle.raised_event(alert, None, names),  # the same body the topic carries
                separators=(",", ":"),
            ).encode()
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-QC-Timestamp": timestamp,
                "X-QC-Signature": sign(hook.secret, timestamp, body),
                "X-QC-Delivery": delivery["_id"],
            }
            try:
                # Never followed: a redirect could carry the alert to a place nobody configured.
                response = requests.post(
                    hook.url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
                )
                error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
            except requests.RequestException as e:
                error = f"{type(e).__name__}: {e}"[:300]
            if error:
                attempts = mark_failed(self.collection, delivery, error, now)
                notify_metrics.NOTIFICATIONS.labels("webhook", "failed").inc()
                log.warning("webhook not delivered; will retry", extra={"hook": hook.id, "attempts": attempts})
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
            notify_metrics.NOTIFICATIONS.labels("webhook", "sent").inc()
            sent += 1
        return sent
