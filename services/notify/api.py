"""The alerts API: list, acknowledge and resolve ("you said, we did"); silences; delivery logs."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, g, request

from qc import events, web
from services.notify import lifecycle
from services.notify.context import ctx, public, scope_query, visible
from services.notify.silences import SilenceError

bp = Blueprint("notify_api", __name__, url_prefix="/api/v1")
STATUSES = ("open", "acknowledged", "resolved")


def _not_found(alert_id: str):
    return web.problem(404, "Not found", f"There is no alert {alert_id} that you can see.")


@bp.get("/alerts")
@web.require_manager
def list_alerts():
    """Alerts the signed-in manager may see, filtered by region, site, status and severity."""
    query = scope_query()
    for field in ("region_id", "site_id"):
        value = request.args.get(field)
        if value:
            if field in query and query[field] != value:
                return web.forbidden(f"{field.replace('_id', '')} {value}")
            query[field] = value
    status = request.args.get("status")
    if status:
        if status not in STATUSES:
            message = f"Must be one of {list(STATUSES)}."
            return web.problem(400, "Unknown status", message, errors=[{"field": "status", "message": message}])
        query["status"] = status
    return {"alerts": [public(a) for a in ctx().store.list(query)]}


@bp.get("/alerts/<alert_id>")
@web.require_manager
def get_alert(alert_id: str):
    """One alert, with what the checker said where the rule needs it."""
    alert = visible(alert_id)
    return public(alert) if alert else _not_found(alert_id)


@bp.get("/alerts/<alert_id>/deliveries")
@web.require_manager
def alert_deliveries(alert_id: str):
    """Who was told, how, and whether it arrived: the delivery log of one alert."""
    if not visible(alert_id):
        return _not_found(alert_id)
    rows = ctx().deliveries.find({"alert_id": alert_id}, sort=[("created_at", 1)])
    fields = ("purpose", "channel", "status", "attempts", "last_error")
    return {
        "deliveries": [
            {
                **{k: d.get(k) for k in fields},
                "to": d.get("person_id") or d.get("hook_id"),
                "created_at": events.isoformat(d["created_at"]),
                "sent_at": events.isoformat(d["sent_at"]) if d.get("sent_at") else None,
            }
            for d in rows
        ]
    }


@bp.post("/alerts/<alert_id>/acknowledge")
@web.require_manager
def acknowledge(alert_id: str):
    """Say "we have seen this and are on it"."""
    return _change(alert_id, "acknowledged", {})


@bp.post("/alerts/<alert_id>/resolve")
@web.require_manager
def resolve(alert_id: str):
    """Close the alert with what was done; the checker sees the response."""
    body = request.get_json(silent=True)
    try:
        response = lifecycle.check_response(body.get("response") if isinstance(body, dict) else None)
    except lifecycle.LifecycleError as e:
        return web.problem(e.status, e.title, e.detail, errors=[{"field": "response", "message": e.detail}])
    return _change(alert_id, "resolved", {"response": response})


def _change(alert_id: str, status: str, extra: dict):
    alert = visible(alert_id)
    if alert is None:
        return _not_found(alert_id)
    try:
        return public(lifecycle.change(ctx(), alert, status, g.principal.username, extra))
    except lifecycle.LifecycleError as e:
        headers = {"Retry-After": "30"} if e.status == 503 else None
        return web.problem(e.status, e.title, e.detail, headers=headers)


@bp.get("/silences")
@web.require_manager
def list_silences():
    """Silences in force."""
    return {"silences": [_silence(s) for s in ctx().silences.active(events.now())]}


@bp.post("/silences")
@web.require_manager
def create_silence():
    """Hold back alerts matching rule / site / region until ``ends_at``, with a reason."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return web.problem(400, "Send JSON", "Send a JSON object with matchers, ends_at and reason.")
    matchers = body.get("matchers") if isinstance(body.get("matchers"), dict) else {}
    principal = g.principal
    if principal.role == "site_manager":
        matchers["site_id"] = principal.site_id  # a manager silences only what they may see
    elif principal.role == "regional_manager":
        matchers["region_id"] = principal.region_id
    try:
        ends_at = dt.datetime.fromisoformat(str(body.get("ends_at", "")).replace("Z", "+00:00"))
        if ends_at.tzinfo is None:
            raise ValueError("no time zone")
        silence = ctx().silences.create(
            principal.username, matchers, ends_at, str(body.get("reason", "")), events.now()
        )
    except ValueError as e:  # SilenceError is a ValueError
        detail = str(e) if isinstance(e, SilenceError) else "'ends_at' must be a date and time with a time zone."
        return web.problem(422, "The silence was not set", detail)
    return _silence(silence), 201


@bp.delete("/silences/<silence_id>")
@web.require_manager
def end_silence(silence_id: str):
    """End a silence early."""
    silence = ctx().silences.end(silence_id, g.principal.username, events.now())
    if silence is None:
        return web.problem(404, "Not found", f"There is no silence {silence_id}.")
    return _silence(silence)


def _silence(doc: dict) -> dict:
    out = {k: v for k, v in doc.items() if k != "_id"}
    out["id"] = doc["_id"]
    for key in ("created_at", "ends_at", "reminded_at"):
        if out.get(key):
            out[key] = events.isoformat(out[key])
    return out
