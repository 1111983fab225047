"""The managers' in-app inbox: alerts to act on, each with its story and delivery log."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request

from qc import question_words, web
from services.notify.context import ctx, public, recipient, scope_query, visible
from services.notify.rules.alerts import SEVERITIES
from services.notify.stores import audit, lifecycle

bp = Blueprint("notify_pages", __name__, url_prefix="/manager/alerts")
_ORDER = {s: i for i, s in enumerate(SEVERITIES)}


def _names(site_ids) -> dict[str, str]:
    return {s["_id"]: s.get("name", s["_id"]) for s in ctx().sites.find({"_id": {"$in": list(site_ids)}})}


@bp.get("")
@web.require_manager_page
def inbox():
    """Open and acknowledged alerts first, most serious first; resolved ones on request."""
    status = request.args.get("status", "open")
    query = scope_query()
    query["status"] = {"$in": ["open", "acknowledged"]} if status == "open" else status
    alerts = sorted(
        ctx().store.list(query, limit=300), key=lambda a: (_ORDER[a["severity"]], -a["raised_at"].timestamp())
    )
    return render_template(
        "inbox.html",
        alerts=alerts,
        status=status,
        names=_names({a["site_id"] for a in alerts}),
        aggregate_url=ctx().settings.aggregate_public_url.rstrip("/"),
    )


@bp.get("/<alert_id>")
@web.require_manager_page
def alert_page(alert_id: str):
    """One alert: what happened, what the checker said, who was told, and the forms to act."""
    alert = visible(alert_id)
    if alert is None:
        return render_template("alert_missing.html"), 404
    audit.record("alert.read", alert_id=alert_id)
    deliveries = [
        {**d, "to": recipient(d)} for d in ctx().deliveries.find({"alert_id": alert_id}, sort=[("created_at", 1)])
    ]
    shown = public(alert)  # the voices and names exactly as the API shows them
    for v in shown["voices"]:
        v["question"] = question_words.text(v["question_id"], ctx().settings.schemas_dir) if v["question_id"] else None
    return render_template(
        "alert.html",
        alert=alert,
        voices=shown["voices"],
        checker_name=shown.get("checker_name"),
        deliveries=deliveries,
        csrf=web.request_csrf_token(),
        may_change=_may_change(alert),
        site_name=_names([alert["site_id"]]).get(alert["site_id"], alert["site_id"]),
        error=request.args.get("error"),
    )


def _may_change(alert: dict) -> bool:
    try:
        lifecycle.check_may_change(g.principal.role, alert)
    except lifecycle.LifecycleError:
        return False
    return True


@bp.post("/<alert_id>/<action>")
@web.require_manager_form
def act(alert_id: str, action: str):
    """Acknowledge or resolve from the page."""
    alert = visible(alert_id)
    if alert is None or action not in ("acknowledge", "resolve"):
        return render_template("alert_missing.html"), 404
    try:
        extra = {"response": lifecycle.check_response(request.form.get("response"))} if action == "resolve" else {}
        status = "resolved" if action == "resolve" else "acknowledged"
        lifecycle.check_may_change(g.principal.role, alert)
        lifecycle.change(ctx(), alert, status, g.principal.username, extra)
    except lifecycle.LifecycleError as e:
        return redirect(f"/manager/alerts/{alert_id}?error={e.status}", code=303)
    audit.record(f"alert.{action}", alert_id=alert_id)
    return redirect(f"/manager/alerts/{alert_id}", code=303)
