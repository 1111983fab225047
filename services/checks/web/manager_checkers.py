"""Managers look after checkers on pages: add someone as a checker, keep their record (consent to take part,
their supporter, who they are paired with) and record when and why they stop.

Site managers for their site, regional managers for their region, the organisation-wide roles for
everyone (after choosing a region). The sign-in links are on their own page (manager_links.py) and time
and training on another (manager_contributions.py); this is the checker's page that links them. A new or
changed checker is published to ``qc.directory`` at once; every change is written to the checker's log
(who, what, when) beside their link history.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from qc import events, web
from qc.dates import long_date
from services.checks.jobs.directory_events import publish_person
from services.checks.rules import training
from services.checks.stores import checker_records
from services.checks.stores.contributions import Contributions
from services.checks.web import intake
from services.checks.web.manager_contributions import checker_in_scope

bp = Blueprint("manager_checkers", __name__, url_prefix="/manager/checkers")


def _ctx():
    return current_app.extensions["qc.checks"]


def _sites_for_new_checker(region_id: str | None) -> list[dict]:
    """The services a new checker may be added at by this manager (org-wide roles: of the region chosen)."""
    principal, sites = g.principal, _ctx().directory.sites
    if principal.role == "site_manager":
        query = {"_id": principal.site_id}
    elif principal.role == "regional_manager":
        query = {"region_id": principal.region_id}
    elif region_id:
        query = {"region_id": region_id}
    else:
        return []
    return list(sites.find({**query, "active": True}, {"name": 1, "region_id": 1}, sort=[("name", 1)]))


def _pairable(person_id: str | None, site: dict) -> list[dict]:
    """Active checkers this one may be paired with: in the same region, where the manager may see them."""
    directory = _ctx().directory
    sites = {s["_id"]: s for s in directory.sites.find({"region_id": site.get("region_id")}, {"name": 1})}
    visible = {i for i, s in sites.items() if g.principal.can_see_site(i, site.get("region_id"))}
    people = directory.people.find(
        {"role": "checker", "active": True, "site_id": {"$in": sorted(visible)}}, {"name": 1, "site_id": 1}
    )
    return [
        {"id": p["_id"], "words": f"{p.get('name', p['_id'])}, {sites[p['site_id']].get('name', '')}"}
        for p in sorted(people, key=lambda p: (p.get("name") or "", p["_id"]))
        if p["_id"] != person_id
    ]


def _with_current_partner(pairable: list[dict], current: str | None) -> list[dict]:
    """The list to choose from, with the partner kept so far in it even if they stopped or are out of reach."""
    if not current or any(p["id"] == current for p in pairable):
        return pairable
    partner = _ctx().directory.person(current) or {}
    return [{"id": current, "words": f"{partner.get('name', current)} (as kept so far)"}, *pairable]


def _publish(person: dict, why: str) -> bool:
    ctx = _ctx()
    return publish_person(ctx.publisher, ctx.settings.secret_key, person, why)


@bp.get("/new")
@web.require_manager_page
def new():
    """Add someone as a checker: their name, the service, consent so far, their supporter."""
    return _new()


@bp.post("/new")
@web.require_manager_form
def add():
    """Add the checker described in the form (errors in plain words next to the fields)."""
    return _new()


def _new():
    region_id = request.values.get("region_id")
    sites = _sites_for_new_checker(region_id)
    if not sites:
        return redirect(url_for("manager_contributions.checkers"), code=303)  # org-wide roles choose a region first
    values, errors = {"consent": "not_yet", "site_id": sites[0]["_id"] if len(sites) == 1 else ""}, {}
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in (*checker_records.LIMITS, "consent", "consent_on", "site_id")}
        site = next((s for s in sites if s["_id"] == request.form.get("site_id")), None)
        if site is None and not _may_add_at(request.form.get("site_id")):
            return web.forbidden("adding a checker at this service")
        fields, errors = checker_records.read_record(request.form, _today(), set())
        if site is None:
            errors["site_id"] = "Choose the service where they will check."
        if not errors:
            checker_id = checker_records.new_checker_id(_ctx().settings.secret_key, request.form.get("form_id"))
            if _ctx().directory.person(checker_id) is None:  # else added by a first press of this form already
                _add(checker_id, fields, site)
            return redirect(url_for(".record", checker_id=checker_id, added="1"), code=303)
    return render_template(
        "manager_checker_new.html",
        sites=sites,
        region_id=region_id,
        values=values,
        errors=errors,
        csrf=web.request_csrf_token(),
        form_id=request.form.get("form_id") or checker_records.new_form_id(),
    ), (400 if errors else 200)


def _may_add_at(site_id: str | None) -> bool:
    """False for a service this manager may not see (a forged form): refused, not just asked again."""
    site = _ctx().directory.site(site_id) if site_id else None
    return site is None or g.principal.can_see_site(site["_id"], site.get("region_id"))


def _add(checker_id: str, fields: dict, site: dict) -> dict:
    directory, now = _ctx().directory, events.now()
    record = {**fields["record"], "invited": {"on": now.date().isoformat(), "by": g.principal.username}}
    person = {
        "_id": checker_id,
        "name": fields["name"],
        "role": "checker",
        "site_id": site["_id"],
        "region_id": site.get("region_id"),
        "active": True,
        "supporter_email": fields["supporter_email"],
        "record": record,
    }
    directory.upsert("person", person)
    directory.log_link(person["_id"], "added as a checker", g.principal.username, g.principal.role, 0)
    _publish(person, "checker added")
    return person


@bp.get("/<checker_id>")
@web.require_manager_page
def record(checker_id: str):
    """One checker's page: their record, and the ways to their links, their time and training."""
    found, refused = checker_in_scope(checker_id)
    if refused:
        return refused
    person, site = found
    return _record_page(person, site, checker_records.form_values(person), {})


def _record_page(person: dict, site: dict, values: dict, errors: dict, status: int = 200, stop_errors=None):
    record = person.get("record") or {}
    tz = ZoneInfo(_ctx().settings.timezone)
    history = [
        {**h, "day": long_date(h["at"].astimezone(tz).date())}  # the day where the service is, not in UTC
        for h in _ctx().directory.link_log.find({"checker_id": person["_id"]}, sort=[("at", -1)], limit=20)
    ]
    entries = Contributions(_ctx().db).entries(person["_id"])
    return render_template(
        "manager_checker.html",
        person=person,
        site=site,
        record=record,
        values=values,
        errors=errors,
        stop_errors=stop_errors or {},
        pairable=_with_current_partner(_pairable(person["_id"], site), record.get("paired_with")),
        history=history,
        stop_reason=request.form.get("reason", "") if stop_errors else "",
        # Training written down on "Time and training", the organisation's own courses first.
        trained=sorted(
            (e for e in entries if e.get("kind") == "training"),
            key=lambda e: (e["title"] not in training.names(), e["date"]),
        ),
        long_date=long_date,
        csrf=web.request_csrf_token(),
        added=request.args.get("added") == "1",
        saved=request.args.get("saved") == "1",
        restarted=request.args.get("restarted") == "1",
    ), status


@bp.post("/<checker_id>")
@web.require_manager_form
def save(checker_id: str):
    """Change the record: consent, supporter, pairing (the name too)."""
    found, refused = checker_in_scope(checker_id)
    if refused:
        return refused
    person, site = found
    # The partner kept so far stays allowed even when no longer in the list (stopped, or out of this manager's
    # reach): saving other fields must not quietly undo a pairing someone else made.
    current = (person.get("record") or {}).get("paired_with")
    pairable = {p["id"] for p in _pairable(person["_id"], site)} | ({current} if current else set())
    fields, errors = checker_records.read_record(request.form, _today(), pairable)
    if errors:
        values = {k: request.form.get(k, "") for k in checker_records.form_values(person)}
        return _record_page(person, site, values, errors, 400)
    kept = {k: v for k, v in (person.get("record") or {}).items() if k in ("invited", "stopped")}
    changed = {**person, "name": fields["name"], "supporter_email": fields["supporter_email"]}
    changed["record"] = {**fields["record"], **kept}
    _ctx().directory.upsert("person", changed)
    _ctx().directory.log_link(checker_id, "record changed", g.principal.username, g.principal.role, 0)
    if (changed["name"], changed["supporter_email"]) != (person.get("name"), person.get("supporter_email")):
        _publish(changed, "checker record changed")  # the others show the name and tell the supporter
    return redirect(url_for(".record", checker_id=checker_id, saved="1"), code=303)


@bp.post("/<checker_id>/stop")
@web.require_manager_form
def stop(checker_id: str):
    """They stop being a checker: why, in plain words; every link stops at once and the others are told."""
    found, refused = checker_in_scope(checker_id)
    if refused:
        return refused
    person, site = found
    if not person.get("active", True):  # stopped already (a second press): the page says so
        return redirect(url_for(".record", checker_id=checker_id), code=303)
    reason, errors = checker_records.read_stop(request.form)
    if errors:
        return _record_page(person, site, checker_records.form_values(person), {}, 400, errors)
    stopped = {"on": _today().isoformat(), "reason": reason, "by": g.principal.username}
    changed = {**person, "active": False, "record": {**(person.get("record") or {}), "stopped": stopped}}
    directory = _ctx().directory
    directory.upsert("person", changed)  # deactivating stops every link, session and board link (directory.py)
    directory.log_link(checker_id, "stopped being a checker", g.principal.username, g.principal.role, 0)
    _publish(directory.person(checker_id) or changed, "checker stopped")
    return redirect(url_for(".record", checker_id=checker_id), code=303)


@bp.post("/<checker_id>/restart")
@web.require_manager_form
def restart(checker_id: str):
    """They are checking again: active once more (a new link is made on their links page); the stop is kept."""
    found, refused = checker_in_scope(checker_id)
    if refused:
        return refused
    person, _site = found
    if not person.get("active", True):
        record = dict(person.get("record") or {})
        if record.get("stopped"):
            record["past_stops"] = [*record.get("past_stops", []), record.pop("stopped")]
        changed = {**person, "active": True, "record": record}
        directory = _ctx().directory
        directory.upsert("person", changed)
        directory.log_link(checker_id, "checking again", g.principal.username, g.principal.role, 0)
        _publish(directory.person(checker_id) or changed, "checker restarted")
    return redirect(url_for(".record", checker_id=checker_id, restarted="1"), code=303)


def _today():
    return intake.today(_ctx().settings.timezone)
