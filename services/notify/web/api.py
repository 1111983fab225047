"""The alerts API: list, acknowledge and resolve ("you said, we did"); silences; delivery logs."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, g, request

from qc import events, jsonbody, web
from services.notify.context import ctx, public, recipient, require_alert_reader, scope_query, visible
from services.notify.rules import consent
from services.notify.stores import audit, lifecycle
from services.notify.stores.silences import SilenceError

bp = Blueprint("notify_api", __name__, url_prefix="/api/v1")
STATUSES = ("open", "acknowledged", "resolved")
AUDIT_ACTIONS = {"acknowledged": "alert.acknowledge", "resolved": "alert.resolve"}


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
    alerts = ctx().store.list(query)
    names = consent.names_for(ctx().contacts, alerts)
    return {"alerts": [public(a, names) for a in alerts]}


@bp.get("/alerts/<alert_id>")
@web.require_manager
def get_alert(alert_id: str):
    """One alert, with what the checker said where the rule needs it."""
    alert = visible(alert_id)
    if alert is None:
        return _not_found(alert_id)
    audit.record("alert.read", alert_id=alert_id)
    return public(alert)


@bp.get("/alerts/<alert_id>/deliveries")
@web.require_manager
def alert_deliveries(alert_id: str):
    """Who was told, how, and whether it arrived: the delivery log of one alert."""
    if not visible(alert_id):
        return _not_found(alert_id)
    audit.record("alert.deliveries.read", alert_id=alert_id)
    rows = ctx().deliveries.find({"alert_id": alert_id}, sort=[("created_at", 1)])
    fields = ("purpose", "channel", "status", "attempts", "last_error")
    return {
        "deliveries": [
            {
                **{k: d.get(k) for k in fields},
                "to": recipient(d),
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
    body, error = jsonbody.request_object()
    if error:
        return error
    try:
        response = lifecycle.check_response(body.get("response"))
    except lifecycle.LifecycleError as e:
        return web.problem(e.status, e.title, e.detail, errors=[{"field": "response", "message": e.detail}])
    return _change(alert_id, "resolved", {"response": response})


def _change(alert_id: str, status: str, extra: dict):
    alert = visible(alert_id)
    if alert is None:
        return _not_found(alert_id)
    try:
        lifecycle.check_may_change(g.principal.role, alert)
        changed = lifecycle.change(ctx(), alert, status, g.principal.username, extra)
    except lifecycle.LifecycleError as e:
        headers = {"Retry-After": "30"} if e.status == 503 else None
        return web.problem(e.status, e.title, e.detail, headers=headers)
    audit.record(AUDIT_ACTIONS[status], alert_id=alert_id)
    return public(changed)


@bp.get("/silences")
@web.require_manager
def list_silences():
    """Silences in force that the manager may see."""
    require_alert_reader()
    return {"silences": [_silence(s) for s in ctx().silences.active(events.now()) if _silence_affects_me(s)]}


@bp.post("/silences")
@web.require_manager
def create_silence():
    """Hold back alerts matching rule / site / region until ``ends_at``, with a reason."""
    require_alert_reader()
    body, error = jsonbody.request_object()
    if error:
        return error
    matchers = body.get("matchers") if isinstance(body.get("matchers"), dict) else {}
    if not all(isinstance(v, str) for v in matchers.values()):
        return web.problem(422, "The silence was not set", "Each matcher must be a text: a rule, site or region id.")
    principal = g.principal
    if principal.role == "site_manager":
        matchers["site_id"] = principal.site_id  # a manager silences only what they may see
        # ...and the region too: it changes nothing that matches, and the regional manager sees the silence.
        matchers["region_id"] = principal.region_id
    elif principal.role == "regional_manager":
        matchers["region_id"] = principal.region_id
    covers_safety = principal.role != "site_manager"
    if not covers_safety and matchers.get("rule") in ctx().safety_rules:
        return web.problem(
            403,
            "Not allowed",
            "Alerts about safety can only be silenced by a regional manager or the safeguarding lead.",
        )
    try:
        ends_at = dt.datetime.fromisoformat(str(body.get("ends_at", "")).replace("Z", "+00:00"))
        if ends_at.tzinfo is None:
            raise ValueError("no time zone")
        silence = ctx().silences.create(
            principal.username, matchers, ends_at, str(body.get("reason", "")), events.now(), covers_safety
        )
    except ValueError as e:  # SilenceError is a ValueError
        detail = str(e) if isinstance(e, SilenceError) else "'ends_at' must be a date and time with a time zone."
        return web.problem(422, "The silence was not set", detail)
    audit.record("silence.create", silence_id=silence["_id"])
    return _silence(silence), 201


@bp.delete("/silences/<silence_id>")
@web.require_manager
def end_silence(silence_id: str):
    """End a silence early (only one the manager may see)."""
    found = ctx().silences.collection.find_one({"_id": silence_id})
    if found is None or not _silence_visible(found):
        return web.problem(404, "Not found", f"There is no silence {silence_id} that you can see.")
    silence = ctx().silences.end(silence_id, g.principal.username, events.now())
    audit.record("silence.end", silence_id=silence_id)
    return _silence(silence)


def _silence_visible(silence: dict) -> bool:
    """A silence is the manager's to end when it is scoped within what they may see."""
    return all(silence["matchers"].get(k) == v for k, v in scope_query().items())


def _silence_affects_me(silence: dict) -> bool:
    """Whether a silence may hold back alerts this manager would be told of: then they see it.

    A region-wide silence holds back the site managers' e-mails too, so they see it (but may not end it).
    """
    principal, matchers = g.principal, silence["matchers"]
    mine = {"region_id": principal.region_id}
    if principal.role == "site_manager":
        mine["site_id"] = principal.site_id
    elif principal.role != "regional_manager":
        return True
    return all(matchers.get(k) in (None, v) for k, v in mine.items())


def _silence(doc: dict) -> dict:
    out = {k: v for k, v in doc.items() if k != "_id"}
    out["id"] = doc["_id"]
    for key in ("created_at", "ends_at", "reminded_at"):
        if out.get(key):
            out[key] = events.isoformat(out[key])
    return out
