"""The managers' home: "Needs you today", for the signed-in manager's own site, region or organisation.

One address for every manager (``/manager/today`` here, where the alerts are);
the sign-in lands on it and the shared navigation opens it first. The lists
come from ``today.py``; this module only reads what is in scope and links each
line to where it is dealt with.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, g, redirect, render_template

from qc import dates, events, manager_nav, schedules, web
from services.notify.context import ctx, scope_query
from services.notify.rules import today as needs
from services.notify.stores import actions, knowledge, reports
from services.notify.web import action_pages

bp = Blueprint("notify_today", __name__)


def _sites_in_scope() -> list[dict]:
    principal = g.principal
    query: dict = {"active": True}
    if principal.role == "site_manager":
        query["_id"] = principal.site_id
    elif principal.role == "regional_manager":
        query["region_id"] = principal.region_id
    fields = {"name": 1, "region_id": 1, "last_visited_on": 1, "first_seen_on": 1, "check_interval": 1}
    return list(ctx().sites.find(query, fields))


def _region_intervals() -> dict[str, str]:
    """How often each region's sites should be checked, where the region says (qc/schedules.py)."""
    return knowledge.region_intervals(ctx().regions)


def _sites_with_an_active_checker(site_ids: set[str]) -> set[str]:
    checkers = ctx().contacts.find({"role": "checker", "active": True}, {"site_id": 1})
    return {c.get("site_id") for c in checkers} & site_ids


def _reports_waiting(today) -> list[dict]:
    """Right-of-reply drafts: for a site manager, those waiting for their site's reply; for the others,
    those of their region(s) still waiting for replies or ready to publish (reports.py)."""
    principal = g.principal
    if principal.role == "site_manager":
        drafts = ctx().reports.drafts({"region_id": principal.region_id})
        return reports.waiting_for_site(drafts, principal.site_id, today)
    return reports.for_region_managers(ctx().reports.drafts(scope_query()), today)


@bp.get("/manager/today")
@web.require_manager_page
def home():
    """What needs the manager today, the most pressing first; every line links to where it is dealt with."""
    settings = ctx().settings
    if not g.principal.reads_alerts:  # the involvement lead's home is their checkers
        return redirect(manager_nav.home(settings, g.principal.role), code=303)
    alerts = ctx().store.waiting(scope_query())  # all of them: the oldest are the most pressing
    sites = _sites_in_scope()
    now, tz = events.now(), ZoneInfo(settings.timezone)
    today = now.astimezone(tz).date()  # the service's own day, for every list on the page
    lists = needs.needs_you(
        alerts, sites, _sites_with_an_active_checker({s["_id"] for s in sites}), now, today, _region_intervals()
    )
    still_open = {**scope_query(), "status": {"$in": list(actions.OPEN_STATES)}}
    store = ctx().actions
    due_actions = actions.needing_attention(store.in_scope(still_open), today)
    # Done, then a checker said "not better" on My checks: back to the managers until they move it on.
    not_better = [a for a in store.in_scope({**scope_query(), "status": "done"}) if a.get("not_better_at")]
    names = {s["_id"]: s.get("name") or s["_id"] for s in sites}
    missing = {a["site_id"] for a in (*alerts, *due_actions, *not_better) if a.get("site_id")} - set(names)
    if missing:  # alerts about a site no longer active still name it
        names.update({s["_id"]: s.get("name") or s["_id"] for s in ctx().sites.find({"_id": {"$in": sorted(missing)}})})
    names.update(action_pages.place_names([a for a in (*due_actions, *not_better) if not a.get("site_id")]))
    waiting_reports = _reports_waiting(today)
    regions = {r["_id"]: r.get("name") or r["_id"] for r in ctx().regions.find({}, {"name": 1})}
    return render_template(
        "today.html",
        nav_current="today",
        today=lists,
        names=names,
        now=now,
        age=needs.age_words,
        escalation=lambda alert: needs.escalation_words(alert, now, tz),
        due_actions=due_actions,
        place=action_pages.place_key,
        not_better_actions=sorted(not_better, key=lambda a: a["not_better_at"]),
        waiting_reports=waiting_reports,
        region_names=regions,
        grid=needs.by_age_and_severity(alerts, today),
        due=lambda action: actions.due_words(action, today),
        shown=needs.SHOWN,
        interval_words=schedules.words,
        day_words=dates.day_words,
        aggregate_url=settings.aggregate_public_url.rstrip("/"),
        checks_url=settings.checks_public_url.rstrip("/"),
    )
