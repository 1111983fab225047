"""The alerts API: list, acknowledge and resolve ("you said, we did")."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, g, request

from qc import events, web
from qc.kafka import PublishError
from qc.settings import TOPICS

bp = Blueprint("notify_api", __name__, url_prefix="/api/v1")
log = logging.getLogger(__name__)
STATUSES = ("open", "acknowledged", "resolved")
MAX_RESPONSE = 2000


def _ctx():
    return current_app.extensions["qc.notify"]


def public(alert: dict) -> dict:
    """An alert as the API shows it."""
    out = {k: v for k, v in alert.items() if k not in ("_id", "notify")}
    out["id"] = alert["_id"]
    for key in ("raised_at", "acknowledged_at", "resolved_at"):
        if alert.get(key):
            out[key] = events.isoformat(alert[key])
    out["history"] = [{**h, "at": events.isoformat(h["at"])} for h in alert.get("history", [])]
    return out


def _scope_query() -> dict:
    principal = g.principal
    if principal.role == "site_manager":
        return {"site_id": principal.site_id}
    if principal.role == "regional_manager":
        return {"region_id": principal.region_id}
    return {}


@bp.get("/alerts")
@web.require_manager
def list_alerts():
    """Alerts the signed-in manager may see, filtered by region, site and status."""
    query = _scope_query()
    for field in ("region_id", "site_id"):
        value = request.args.get(field)
        if value:
            if field in query and query[field] != value:
                return web.forbidden(f"{field.replace('_id', '')} {value}")
            query[field] = value
    status = request.args.get("status")
    if status:
        if status not in STATUSES:
            return web.problem(
                400,
                "Unknown status",
                f"'status' must be one of {', '.join(STATUSES)}.",
                errors=[{"field": "status", "message": f"Must be one of {list(STATUSES)}."}],
            )
        query["status"] = status
    return {"alerts": [public(a) for a in _ctx().store.list(query)]}


@bp.get("/alerts/<alert_id>")
@web.require_manager
def get_alert(alert_id: str):
    """One alert, with what the checker said where the rule needs it."""
    alert = _visible(alert_id)
    return public(alert) if isinstance(alert, dict) else alert


def _visible(alert_id: str):
    alert = _ctx().store.get(alert_id)
    if alert is None:
        return web.problem(404, "Not found", f"There is no alert {alert_id}.")
    scope = _scope_query()
    if any(alert.get(k) != v for k, v in scope.items()):
        return web.forbidden("this alert")
    return alert


@bp.post("/alerts/<alert_id>/acknowledge")
@web.require_manager
def acknowledge(alert_id: str):
    """Say "we have seen this and are on it"."""
    return _transition(alert_id, ("open",), "acknowledged", {})


@bp.post("/alerts/<alert_id>/resolve")
@web.require_manager
def resolve(alert_id: str):
    """Close the alert with what was done; the checker sees the response."""
    body = request.get_json(silent=True)
    response = body.get("response") if isinstance(body, dict) else None
    if not isinstance(response, str) or not response.strip() or len(response) > MAX_RESPONSE:
        message = f"Say in plain words what was done (1 to {MAX_RESPONSE} characters); the checker will see it."
        return web.problem(422, "A response is needed", message, errors=[{"field": "response", "message": message}])
    return _transition(alert_id, ("open", "acknowledged"), "resolved", {"response": response.strip()})


def _transition(alert_id: str, allowed_from: tuple, status: str, extra: dict):
    alert = _visible(alert_id)
    if not isinstance(alert, dict):
        return alert
    if alert["status"] == status:
        return public(alert)  # repeating a request changes nothing
    if alert["status"] not in allowed_from:
        return web.problem(409, "Cannot do that now", f"This alert is {alert['status']}; it cannot become {status}.")
    ctx = _ctx()
    by = g.principal.username
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
    except PublishError:
        log.exception("alert change not published", extra={"alert_id": alert_id})
        return web.problem(
            503, "Please try again soon", "The change could not be saved just now.", headers={"Retry-After": "30"}
        )
    updated = ctx.store.transition(alert_id, allowed_from, status, by, extra) or ctx.store.get(alert_id)
    log.info("alert changed", extra={"alert_id": alert_id, "status": status})
    return public(updated)
