"""open -> acknowledged -> resolved: the one place an alert's status changes."""

from __future__ import annotations

import logging

from qc import events
from qc.kafka import PublishError
from qc.settings import TOPICS
from services.notify.context import Context
from services.notify.delivery import supporters
from services.notify.rules import consent

log = logging.getLogger(__name__)
ALLOWED_FROM = {"acknowledged": ("open",), "resolved": ("open", "acknowledged")}
MAX_RESPONSE = 2000


class LifecycleError(Exception):
    """The change cannot be made; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, title: str, detail: str):
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def check_response(response) -> str:
    """The plain-words response a resolution needs, or LifecycleError."""
    if not isinstance(response, str) or not response.strip() or len(response) > MAX_RESPONSE:
        raise LifecycleError(
            422,
            "A response is needed",
            f"Say in plain words what was done (1 to {MAX_RESPONSE} characters); the checker will see it.",
        )
    return response.strip()


def check_may_change(role: str, alert: dict) -> None:
    """LifecycleError (403) when this role may not acknowledge or resolve this alert.

    A worry may be about the site's own staff or manager: the site manager can
    read it and act, but the regional manager or the safeguarding lead closes it.
    """
    if role == "site_manager" and alert.get("safeguarding"):
        raise LifecycleError(
            403,
            "Not yours to close",
            "An urgent concern is acknowledged and resolved by the regional manager or the safeguarding lead. "
            "Tell them what you have done; they will close it.",
        )


def change(ctx: Context, alert: dict, status: str, by: str, extra: dict) -> dict:
    """Publish the change (so checks can tell the checker), then store it; returns the alert."""
    if alert["status"] == status:
        return alert  # repeating a request changes nothing
    if alert["status"] not in ALLOWED_FROM[status]:
        raise LifecycleError(409, "Cannot do that now", f"This alert is {alert['status']}; it cannot become {status}.")
    data = {
        "alert_id": alert["_id"],
        "key": alert["key"],
        "site_id": alert["site_id"],
        "region_id": alert["region_id"],
        "by": by,
        "at": events.isoformat(events.now()),
        "submission_ids": alert["submission_ids"],
        **extra,
    }
    event = events.make_event(
        f"org.qc.alert.{status}",
        source="qc/notify",
        subject=alert["_id"],
        data=data,
        event_id=f"{alert['_id']}:{status}",
    )
    try:
        # Published before the change is stored: a retry after a failure
        # repeats the same event id, which consumers treat as one.
        ctx.publisher.publish_sync(TOPICS["alerts"], alert["key"], event)
    except PublishError as e:
        log.exception("alert change not published", extra={"alert_id": alert["_id"]})
        raise LifecycleError(503, "Please try again soon", "The change could not be saved just now.") from e
    updated = ctx.store.transition(alert["_id"], ALLOWED_FROM[status], status, by, extra)
    log.info("alert changed", extra={"alert_id": alert["_id"], "status": status})
    if updated and status == "resolved":
        supporters.plan_notes(ctx.deliveries.database, updated)
    return updated or ctx.store.get(alert["_id"])


def raised_event(alert: dict, correlation_id: str | None, names: dict[str, str] | None = None) -> dict:
    """The public ``org.qc.alert.raised`` event: never a checker id; a name only where the checker agreed."""
    fields = ("key", "rule", "severity", "site_id", "region_id", "period", "submission_ids", "question_ids", "summary")
    data = {k: alert[k] for k in fields}
    data.update(alert_id=alert["_id"], status="open", raised_at=events.isoformat(alert["raised_at"]))
    # No free text leaves in the event (it goes to webhooks too): who, and how they answered, only.
    data["voices"] = consent.public_voices(alert, names or {}, with_comments=False)
    return events.make_event(
        "org.qc.alert.raised",
        source="qc/notify",
        subject=alert["_id"],
        data=data,
        correlation_id=correlation_id,
        event_id=f"{alert['_id']}:raised",
    )
