"""The managers' pages for actions: make one from what people said, follow it to done, list and download them.

A manager may make and change actions for the sites they may see (site managers their site, regional
managers their region, the organisation-wide roles every site). Aggregate's site page links here with
``?site_id=…&about=question:<id>|theme:<id>|text:<key>&period=…`` (one text by its key: qc/text_keys.py);
its region page with ``?region_id=…&about=theme:<id>`` for an action about a whole region (regional
managers and organisation-wide roles only), which has no site.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from qc import events, export, periods, web
from services.notify.context import ctx, require_alert_reader, scope_query
from services.notify.jobs import action_events
from services.notify.rules import board
from services.notify.stores import actions as rules

bp = Blueprint("notify_actions", __name__, url_prefix="/manager/actions")
CSV_COLUMNS = ["site_id", "site", "about", "what", "owner", "due_on", "status", "done_words", "reason", "created_by"]


def _store() -> rules.Actions:
    store = ctx().actions
    if not current_app.extensions.get("qc.actions_indexed"):
        store.ensure_indexes()
        current_app.extensions["qc.actions_indexed"] = True
    return store


def _today():
    return events.now().astimezone(ZoneInfo(ctx().settings.timezone)).date()


def about_words(about: dict) -> str:
    """What people said, as the manager reads it (actions.about_words with this app's settings)."""
    return rules.about_words(about, ctx().settings)


def _site(site_id: str | None) -> dict | None:
    """The site if this manager may see it (None otherwise: no hint whether it exists)."""
    require_alert_reader()  # actions follow what people said and the alerts it raised
    site = ctx().sites.find_one({"_id": site_id}) if site_id else None
    if site is None or not g.principal.can_see_site(site["_id"], site.get("region_id")):
        return None
    return site


def _place(site_id: str | None, region_id: str | None) -> dict | None:
    """Where an action is: a site, or a whole region (``_id`` None) for those who look after all of it."""
    if site_id:
        return _site(site_id)
    require_alert_reader()
    region = ctx().regions.find_one({"_id": region_id}) if region_id else None
    if region is None or g.principal.role == "site_manager" or not g.principal.can_see_region(region_id):
        return None
    return {"_id": None, "region_id": region_id, "name": f"All of {region.get('name') or region_id}"}


def place_key(action: dict) -> str:
    """An action's place: its site's id, or ``region:<id>`` for an action about a whole region."""
    return action.get("site_id") or f"region:{action.get('region_id')}"


def place_names(found: list[dict]) -> dict[str, str]:
    """The name of each action's place, by ``place_key``: a site's name, or "All of <region>"."""
    sites = sorted({a["site_id"] for a in found if a.get("site_id")})
    regions = sorted({a["region_id"] for a in found if not a.get("site_id")})
    names = {s["_id"]: s.get("name") or s["_id"] for s in ctx().sites.find({"_id": {"$in": sites}})}
    for region in ctx().regions.find({"_id": {"$in": regions}}):
        names[f"region:{region['_id']}"] = f"All of {region.get('name') or region['_id']}"
    return names


def _site_page(site_id: str | None, period: str | None) -> str:
    """The site's page at aggregate, where the manager read what was written."""
    query = f"?{urlencode({'period': period})}" if period else ""
    return f"{ctx().settings.aggregate_public_url.rstrip('/')}/manager/sites/{site_id}{query}#comments"


def _period(text: str | None) -> str | None:
    """The period the site page was showing, if it is one (it is only said back, in words)."""
    try:
        return text if text and periods.kind_of(text) else None
    except periods.PeriodError:
        return None


@bp.get("/new")
@web.require_manager_page
def new():
    """The form to make an action about one thing people said at one site."""
    return _new_page()


@bp.post("/new")
@web.require_manager_form
def add():
    """Make the action; errors in plain words beside the fields."""
    return _new_page()


def _new_page():
    site = _place(request.values.get("site_id"), request.values.get("region_id"))
    about = rules.About.parse(request.values.get("about"))
    if site is None or about is None or not rules.is_known(about, ctx().settings):
        return render_template("alert_missing.html", what="action"), 404
    if site["_id"] is None and about.kind != "theme":  # a region's action is about a theme on its page
        return render_template("alert_missing.html", what="action"), 404
    period = _period(request.values.get("period"))
    values, errors = {"said": "", "what": "", "owner": "", "due_on": ""}, {}
    if request.method == "POST":
        fields, errors = rules.read_new(request.form, _today(), about)
        values = {k: request.form.get(k, "") for k in values}
        if not errors:
            if about.kind == "text":  # the manager's words for it go with what it is about
                about = dataclasses.replace(about, words=fields.pop("said"))
            action = _store().add(site, about, period, fields, g.principal.username)
            action_events.tell(ctx().publisher, _store(), action)  # the checkers who said it see it on My checks
            return redirect(url_for(".action_page", action_id=action["_id"], added="1"), code=303)
    return render_template(
        "action_new.html",
        nav_current="actions",
        site=site,
        about=about,
        about_words=about_words(about.stored()),
        site_page=_site_page(site["_id"], period),
        period=period,
        values=values,
        errors=errors,
        csrf=web.request_csrf_token(),
    ), (400 if errors else 200)


@bp.get("")
@web.require_manager_page
def listing():
    """The actions in the manager's scope: those to do first (soonest due), then the finished ones; or a CSV."""
    query = scope_query()
    if request.args.get("site_id"):
        site = _site(request.args["site_id"])
        if site is None:
            return render_template("alert_missing.html", what="site"), 404
        query = {"site_id": site["_id"]}
    found = _store().in_scope(query)
    names = place_names(found)
    if request.args.get("format") == "csv":
        rows = [
            {
                **a,
                "site": names.get(place_key(a), place_key(a)),
                "about": about_words(a["about"]),
                "status": rules.STATES[a["status"]],
            }
            for a in found
        ]
        return export.csv_response(rows, export.filename_for("actions", *(query.values() or ["all"])), CSV_COLUMNS)
    today = _today()
    return render_template(
        "actions.html",
        nav_current="actions",
        to_do=[a for a in found if a["status"] in rules.OPEN_STATES],
        finished=[a for a in found if a["status"] not in rules.OPEN_STATES],
        names=names,
        place=place_key,
        about=about_words,
        due=lambda a: rules.due_words(a, today),
        states=rules.STATES,
        site_id=request.args.get("site_id"),
    )


@bp.get("/<action_id>")
@web.require_manager_page
def action_page(action_id: str):
    """One action: what, who, by when, its history, and the form to say what has happened."""
    return _action_page(action_id)


@bp.post("/<action_id>")
@web.require_manager_form
def change(action_id: str):
    """In progress, done (what was done) or will not be done (why)."""
    return _action_page(action_id)


def _action_page(action_id: str):
    action = _store().get(action_id)
    site = _place(action["site_id"], action.get("region_id")) if action else None
    if site is None:
        return render_template("alert_missing.html", what="action"), 404
    errors, conflict = {}, False
    if request.method == "POST":
        change, errors = rules.read_change(request.form)
        if not errors:
            changed = _store().change(action, change, g.principal.username)
            if changed is not None:
                action_events.tell(ctx().publisher, _store(), changed)
                return redirect(url_for(".action_page", action_id=action_id, saved="1"), code=303)
            conflict, action = True, _store().get(action_id)
    return render_template(
        "action.html",
        nav_current="actions",
        action=action,
        site=site,
        about=about_words(action["about"]),
        states=rules.STATES,
        due=rules.due_words(action, _today()),
        errors=errors,
        conflict=conflict,
        csrf=web.request_csrf_token(),
        added=request.args.get("added") == "1",
        saved=request.args.get("saved") == "1",
        aggregate_url=ctx().settings.aggregate_public_url.rstrip("/"),
        # What the checkers who said it answered on My checks once it was done ("yes (2), no (1)").
        better=board.better_words(ctx().feedback.counts([action_id], field="action_id").get(action_id)),
    ), (400 if errors else 409 if conflict else 200)
