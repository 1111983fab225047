"""Managers write down a checker's time given and training (the form cannot know them): add an entry, remove one.

Manager session and CSRF as on every manager page form (qc.web); a manager sees only the checkers of the
sites they may see (site managers their site, regional managers their region).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for

from qc import web
from qc.dates import long_date
from services.checks.rules import training
from services.checks.stores.contributions import KINDS, MAX_HOURS, Contributions, hours_words, read_entry, record
from services.checks.web import intake

bp = Blueprint("manager_contributions", __name__, url_prefix="/manager")


def _ctx():
    return current_app.extensions["qc.checks"]


def _store() -> Contributions:
    store = Contributions(_ctx().db)
    if not current_app.extensions.get("qc.contributions_indexed"):
        store.ensure_indexes()
        current_app.extensions["qc.contributions_indexed"] = True
    return store


def checker_in_scope(checker_id: str):
    """(checker, site) for a checker this manager may see; 404 if there is no such checker, 403 if not theirs."""
    directory = _ctx().directory
    person = directory.person(checker_id)
    if person is None or person.get("role") != "checker":
        abort(404)
    site = directory.site(person.get("site_id")) or {}
    if not g.principal.can_see_site(person.get("site_id"), site.get("region_id")):
        return None, web.forbidden("this checker's record")
    return (person, site), None


def _page(checker: dict, site: dict, status: int = 200, errors: dict | None = None, values: dict | None = None):
    return (
        render_template(
            "manager_contributions.html",
            person=checker,
            site=site,
            record=record(_store(), checker["_id"]),
            kinds=KINDS,
            training_names=training.names(),
            max_hours=MAX_HOURS,
            errors=errors or {},
            values=values or {"kind": "training"},
            long_date=long_date,
            hours_words=hours_words,
            manager_csrf=web.request_csrf_token(),
            added=request.args.get("added") == "1",
            removed=request.args.get("removed") == "1",
        ),
        status,
    )


@bp.get("/checkers")
@web.require_manager_page
def checkers():
    """The checkers a manager may see, each with a link to their time and training (org-wide roles pick a region)."""
    directory, principal = _ctx().directory, g.principal
    regions, region_id = [], request.args.get("region_id")
    if principal.role == "site_manager":
        site_query = {"_id": principal.site_id}
    elif principal.role == "regional_manager":
        site_query = {"region_id": principal.region_id}
    elif region_id:
        site_query = {"region_id": region_id}
    else:  # 1,500 sites is too many for one list: the organisation's regions first
        regions = list(directory.regions.find({}, {"name": 1}, sort=[("_id", 1)]))
        site_query = None
    sites = {s["_id"]: s for s in directory.sites.find(site_query, {"name": 1})} if site_query else {}
    fields = {"name": 1, "site_id": 1, "active": 1}
    people = directory.people.find({"role": "checker", "site_id": {"$in": list(sites)}}, fields, sort=[("site_id", 1)])
    rows = [
        {
            "id": p["_id"],
            "name": p.get("name", p["_id"]),
            "site": sites[p["site_id"]].get("name"),
            "active": p.get("active", True),
        }
        for p in people
    ]
    return render_template(
        "manager_checkers.html",
        rows=rows,
        regions=regions,
        region_id=region_id,
        can_add=bool(site_query),
        sites=sorted(sites.values(), key=lambda s: s.get("name") or s["_id"]),
    )


@bp.get("/checkers/<checker_id>/contributions")
@web.require_manager_page
def contributions(checker_id: str):
    """A checker's recorded time and training, and the form to add an entry."""
    found, refused = checker_in_scope(checker_id)
    return refused or _page(*found)


@bp.post("/checkers/<checker_id>/contributions")
@web.require_manager_form
def add_contribution(checker_id: str):
    """Add one entry (date, kind, hours, what it was); errors in plain words next to the fields."""
    found, refused = checker_in_scope(checker_id)
    if refused:
        return refused
    checker, site = found
    entry, errors = read_entry(request.form, intake.today(_ctx().settings.timezone))
    if errors:
        values = {k: request.form.get(k, "") for k in ("date", "kind", "hours", "title")}
        return _page(checker, site, 400, errors, values)
    _store().add(checker, entry, g.principal.username)
    return redirect(url_for(".contributions", checker_id=checker_id, added="1"), code=303)


@bp.post("/checkers/<checker_id>/contributions/<entry_id>/remove")
@web.require_manager_form
def remove_contribution(checker_id: str, entry_id: str):
    """Remove one entry written down by mistake."""
    found, refused = checker_in_scope(checker_id)
    if refused:
        return refused
    # Already gone (a second tap on Remove) is not an error: back to the list, which shows it is gone.
    removed = _store().remove(checker_id, entry_id)
    return redirect(url_for(".contributions", checker_id=checker_id, **({"removed": "1"} if removed else {})), code=303)
