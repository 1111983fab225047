"""Managers stop a checker's links and make a new one (a lost phone, a worry, someone leaving).

Site managers for their site, regional managers for their region, the organisation-wide roles for
everyone. Stopping ends every sign-in link of the checker, the sessions on their phones (a session
is the link itself) and the board links they were given (notify refuses board links made before
``links_reset_at``, which the person's directory event carries). A new link is shown once, never
stored (only its hash is), and every issue and stop is written to ``checker_link_log``.
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from qc import auth, web
from qc.dates import long_date
from services.checks.jobs.directory_events import publish_person
from services.checks.web import link_card
from services.checks.web.manager_contributions import checker_in_scope

bp = Blueprint("manager_links", __name__, url_prefix="/manager")
log = logging.getLogger(__name__)


def _ctx():
    return current_app.extensions["qc.checks"]


@bp.get("/checkers/<checker_id>/links")
@web.require_manager_page
def links(checker_id: str):
    """How many links of this checker work, when each was last used, and the buttons to stop them."""
    found, refused = checker_in_scope(checker_id)
    return refused or _page(*found, stopped=request.args.get("stopped"))


@bp.post("/checkers/<checker_id>/links/stop")
@web.require_manager_form
def stop(checker_id: str):
    """Stop every link of this checker, on every phone."""
    found, refused = checker_in_scope(checker_id)
    if refused:
        return refused
    stopped, told = _stop(found[0])
    return redirect(
        url_for(".links", checker_id=checker_id, stopped=str(stopped), **({} if told else {"late": "1"})), 303
    )


@bp.post("/checkers/<checker_id>/links/new")
@web.require_manager_form
def new(checker_id: str):
    """Stop every link of this checker and make one new link, shown once on this page."""
    found, refused = checker_in_scope(checker_id)
    if refused:
        return refused
    person, site = found
    if not person.get("active", True):
        return _page(person, site, status=409, inactive=True)
    stopped, told = _stop(person)
    token = auth.new_checker_token()
    _ctx().directory.add_checker_token(person["_id"], person["site_id"], auth.hash_checker_token(token))
    _ctx().directory.log_link(person["_id"], "issued", g.principal.username, g.principal.role, 1)
    new_link = f"{_ctx().settings.checks_public_url.rstrip('/')}/s/{token}"
    card = link_card.qr_svg(new_link, person.get("name") or person["_id"])
    return _page(person, site, stopped=str(stopped), new_link=new_link, qr_svg=card, late=not told)


def _stop(person: dict) -> tuple[int, bool]:
    """Stop the links, then tell the other services (board links); (links stopped, whether they were told)."""
    stopped, stored = _ctx().directory.stop_links(person["_id"], g.principal.username, g.principal.role)
    # The sign-in links are stopped already; the board links stop when the others hear of it.
    return stopped, publish_person(_ctx().publisher, _ctx().settings.secret_key, stored, "links stopped")


def _page(person: dict, site: dict, status: int = 200, **shown):
    settings = _ctx().settings
    directory = _ctx().directory
    rows = [
        {"made": long_date(t["created_at"]), "used": long_date(t.get("used_at") or t["created_at"])}
        for t in directory.live_links(person["_id"])
    ]
    history = list(directory.link_log.find({"checker_id": person["_id"]}, sort=[("at", -1)], limit=10))
    page = render_template(
        "manager_links.html",
        person=person,
        site=site,
        rows=rows,
        history=[{**h, "day": long_date(h["at"])} for h in history],
        idle_days=settings.checker_link_idle_days,
        manager_csrf=web.request_csrf_token(),
        late=shown.pop("late", False) or request.args.get("late") == "1",
        **shown,
    )
    # A new link is a secret shown once: never kept in a browser cache or history.
    return page, status, {"Cache-Control": "no-store"}
