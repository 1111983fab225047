"""How often each service should be checked, set on a page: for a region, and for any of its sites.

Regional managers for their region; the organisation administrator and the involvement lead for any
region (after choosing one). A site without its own interval takes its region's, else every month
(qc/schedules.py). A change is stored in the directory and published to ``qc.directory`` at once, so
notify reminds checkers and lists overdue sites by the new schedule.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from qc import schedules, web
from qc.kafka import PublishError
from qc.settings import TOPICS
from services.checks.jobs.directory_events import directory_event

bp = Blueprint("manager_schedule", __name__, url_prefix="/manager/schedule")
MAY_SET = ("regional_manager", "org_admin", "involvement_lead")
SAME_AS_REGION = ""  # a site's choice "as its region"


def _ctx():
    return current_app.extensions["qc.checks"]


def _region() -> dict | None:
    """The region this manager is setting (theirs, or the one an organisation-wide role chose)."""
    principal = g.principal
    region_id = request.values.get("region_id") or (
        principal.region_id if principal.role == "regional_manager" else None
    )
    region = _ctx().directory.regions.find_one({"_id": region_id}) if region_id else None
    return region if region is not None and principal.can_see_region(region["_id"]) else None


def _sites(region_id: str) -> list[dict]:
    fields = {"name": 1, "region_id": 1, "check_interval": 1, "active": 1}
    found = _ctx().directory.sites.find({"region_id": region_id, "active": True}, fields, sort=[("name", 1)])
    return list(found)


@bp.get("")
@web.require_manager_page
def schedule():
    """The region's interval and each site's, as choices; organisation-wide roles choose a region first."""
    return _page()


@bp.post("")
@web.require_manager_form
def save():
    """Store and publish the intervals chosen; a choice that is not one of the list is refused, nothing saved."""
    return _page()


def _page():
    if g.principal.role not in MAY_SET:
        return render_template("manager_schedule.html", not_yours=True), 403
    region = _region()
    if region is None:
        if g.principal.role == "regional_manager" or request.values.get("region_id"):
            return render_template("manager_schedule.html", missing=True), 404
        regions = list(_ctx().directory.regions.find({}, {"name": 1}, sort=[("_id", 1)]))
        return render_template("manager_schedule.html", regions=regions)
    sites, errors, not_told = _sites(region["_id"]), {}, False
    if request.method == "POST":
        chosen = {s["_id"]: request.form.get(f"site-{s['_id']}", SAME_AS_REGION) for s in sites}
        region_choice = request.form.get("region", "")
        if region_choice not in schedules.INTERVALS:
            errors["region"] = "Choose how often every service in the region is checked."
        for site_id, choice in chosen.items():
            if choice != SAME_AS_REGION and choice not in schedules.INTERVALS:
                errors[f"site-{site_id}"] = "Choose how often this service is checked, or “Same as the region”."
        if not errors and _store(region, region_choice, sites, chosen):
            return redirect(url_for(".schedule", region_id=region["_id"], saved="1"), code=303)
        not_told = not errors  # stored, but the broker did not take it: saving again sends it
        if not_told:
            region, sites = _ctx().directory.regions.find_one({"_id": region["_id"]}), _sites(region["_id"])
    return render_template(
        "manager_schedule.html",
        region=region,
        region_interval=region.get("check_interval") or schedules.DEFAULT,
        sites=sites,
        intervals=schedules.INTERVALS,
        words=schedules.words,
        errors=errors,
        not_told=not_told,
        saved=request.args.get("saved") == "1",
        csrf=web.request_csrf_token(),
    ), (400 if errors else 503 if not_told else 200)


def _store(region: dict, region_choice: str, sites: list[dict], chosen: dict[str, str]) -> bool:
    """Write what changed and publish it (the default, every month, is kept as no choice at all); False if the
    broker did not take it. A save the broker missed is marked on the region, and the next save publishes the
    region and all its sites, so nothing changed stays unknown to the others."""
    ctx = _ctx()
    directory, changed = ctx.directory, []
    wanted = None if region_choice == schedules.DEFAULT else region_choice
    if region.get("check_interval") != wanted or region.get("schedule_unpublished"):
        region = {**region, "check_interval": wanted}
        directory.upsert("region", {k: v for k, v in region.items() if k != "schedule_unpublished"})
        changed.append(("region", region))
    for site in sites:
        full = directory.site(site["_id"])
        if full.get("check_interval") != (chosen[site["_id"]] or None):
            full = {**full, "check_interval": chosen[site["_id"]] or None}
            directory.upsert("site", full)
            changed.append(("site", full))
        elif region.get("schedule_unpublished"):
            changed.append(("site", full))
    try:
        for entity, doc in changed:
            event = directory_event(entity, doc, secret_key=ctx.settings.secret_key)
            ctx.publisher.send(TOPICS["directory"], doc["_id"], event)
        ctx.publisher.flush()
    except PublishError:
        directory.regions.update_one({"_id": region["_id"]}, {"$set": {"schedule_unpublished": True}})
        return False
    return True
