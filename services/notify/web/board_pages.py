"""The "You said, we did" board pages: easy read on a phone, and an A4 version for the noticeboard.

Who may read a site's board: its managers (the session cookie or a bearer
token, scoped like alerts), and anyone holding a board link for that site —
a signed, expiring, site-scoped token (qc.auth.issue_board_token) that
checks' "My checks" or a manager hands to the people who live there. Notify
cannot check a checker's own sign-in (only checks knows those), so the
link is the checker's way in. The link names who it was given to; it stops
when that person is deactivated, moves site, or has their links stopped
(``links_reset_at``, from the directory).
"""

from __future__ import annotations

import base64
import functools
import hashlib
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, g, make_response, redirect, render_template, request
from markupsafe import Markup

from qc import auth, events, question_words, themes, web
from services.notify.context import ctx
from services.notify.rules import board, consent

bp = Blueprint("notify_board", __name__)
_TEMPLATES = Path(__file__).parent / "templates"


@functools.lru_cache(maxsize=1)
def _assets() -> dict:
    """The board's style and script, inlined (a printed page needs no second request) and allowed by hash.

    They are inlined rather than served from /static because that path belongs to checks behind the proxy.
    """
    out = {}
    for kind in ("style", "script"):
        text = (_TEMPLATES / f"_board_{kind}.html").read_text()
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        out[kind], out[f"{kind}_hash"] = Markup(text), f"'sha256-{digest}'"
    out["csp"] = (
        f"default-src 'none'; img-src 'self' data:; style-src {out['style_hash']}; script-src {out['script_hash']}; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return out


def _respond(body: str, status: int = 200):
    response = make_response(body, status)
    response.headers["Content-Security-Policy"] = _assets()["csp"]
    # A board link carries its token: never pass it on to another site, never keep the page in a shared cache.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/manager/boards")
@web.require_manager_page
def boards():
    """The boards this manager may see: one link per site."""
    principal = g.principal
    query = {"active": True}
    if principal.role == "site_manager":
        query["_id"] = principal.site_id
    elif principal.role == "regional_manager":
        query["region_id"] = principal.region_id
    sites = list(ctx().sites.find(query, sort=[("region_id", 1), ("name", 1)], limit=2000))
    return render_template("boards.html", sites=sites)


@bp.get("/sites/<site_id>/board")
def board_page(site_id: str):
    """The board of one site, in easy read, with a read-aloud button."""
    return _board(site_id, "board.html")


@bp.get("/sites/<site_id>/board/print")
def board_print(site_id: str):
    """The same board on A4 for the noticeboard: large text, symbols, nothing to click."""
    return _board(site_id, "board_print.html")


def _board(site_id: str, template: str):
    settings = ctx().settings
    site = ctx().sites.find_one({"_id": site_id})
    token = request.args.get("t")
    if token:
        try:
            link = auth.read_board_token(settings.secret_key, token)
        except auth.AuthError as e:
            return _problem(401, "This link does not work", f"{str(e).capitalize()}. Ask for a new one.")
        if site is None or link.site_id != site_id:
            return _missing()
        if not _holder_may_read(link):
            return _problem(401, "This link does not work", "This board link has been stopped. Ask for a new one.")
        manager = False
    else:
        try:
            principal = web.current_principal(settings)
        except auth.AuthError:
            target = f"{settings.checks_public_url.rstrip('/')}/manager/sign-in?{urlencode({'next': request.url})}"
            return redirect(target, code=303)
        if site is None or not principal.can_see_site(site_id, site.get("region_id")):
            return _missing()
        manager = True
    now = events.now()
    alerts = ctx().store.list({"site_id": site_id, "raised_at": {"$gte": board.since(now)}}, limit=300)
    alerts = [a for a in alerts if board.from_checks(a)]
    names = consent.names_for(ctx().contacts, alerts)
    store, since = ctx().actions, {"$gte": board.since(now)}
    made = store.in_scope({"site_id": site_id, "created_at": since})
    # ...and those about the whole region the site is in (a theme on the region's page).
    made += store.in_scope({"site_id": None, "region_id": site.get("region_id"), "created_at": since})
    # "Is it better now?" answers, about alerts and about actions (ids of the two never meet).
    feedback = ctx().feedback.counts([a["_id"] for a in alerts])
    feedback |= ctx().feedback.counts([a["_id"] for a in made], field="action_id")
    labels = themes.labels(settings.themes_path)
    items = board.items(alerts, feedback, names, question_words.texts(settings.schemas_dir), made, labels)
    share_link = None
    if manager:
        # For the manager to hand on (or print) to the people who live there.
        fresh = auth.issue_board_token(settings.secret_key, site_id, f"manager:{principal.username}")
        share_link = f"{settings.notify_public_url.rstrip('/')}/sites/{site_id}/board?{urlencode({'t': fresh})}"
    query = f"?{urlencode({'t': token})}" if token else ""
    page = render_template(
        template,
        site=site,
        items=items,
        query=query,
        manager=manager,
        share_link=share_link,
        share_days=auth.BOARD_TOKEN_MAX_AGE // 86400,
        printed_on=board.long_date(now),
        assets=_assets(),
    )
    return _respond(page)


def _holder_may_read(link: auth.BoardLink) -> bool:
    """Whether the person the link was given to is still active, still at that site (a checker), and has
    not had their links stopped since it was made (links_reset_at, to the second the link is signed in)."""
    kind, _, who = link.holder.partition(":")
    if kind == "checker":
        person = ctx().contacts.find_one({"_id": who})
        if person is None or person.get("site_id") != link.site_id:
            return False
    elif kind == "manager":
        person = ctx().contacts.find_one({"username": who})
    else:
        return False
    if person is None or not person.get("active"):
        return False
    reset = person.get("links_reset_at")
    return reset is None or link.issued_at >= reset.replace(microsecond=0)


def _missing():
    return _problem(404, "We cannot find this board", "The link may be old, or for another place.")


def _problem(status: int, heading: str, detail: str):
    return _respond(render_template("board_problem.html", heading=heading, detail=detail, assets=_assets()), status)
