"""Managers make, print and stop a site's own link for the key questions (voice_pages.py, voice_links.py).

Site managers for their site, regional managers for their region, the organisation-wide roles for every
site. A new link stops the one before and is shown once, with a card to print for the site's board (its QR
code opens the link); only its hash is kept. Who made or stopped each link, and when, is on the page.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from qc import web
from qc.dates import long_date
from services.checks.web import link_card

bp = Blueprint("manager_voice_link", __name__, url_prefix="/manager/sites")


def _ctx():
    return current_app.extensions["qc.checks"]


def _site(site_id: str):
    """The site if this manager may see it, else a 404 (no hint whether it exists)."""
    site = _ctx().directory.site(site_id)
    if site is None or not g.principal.can_see_site(site["_id"], site.get("region_id")):
        return None, (render_template("problem.html", heading="We cannot find this site"), 404)
    return site, None


@bp.get("/<site_id>/voice-link")
@web.require_manager_page
def page(site_id: str):
    """Whether the site has a link that works, since when and last used; the buttons to replace or stop it."""
    site, refused = _site(site_id)
    return refused or _page(site, stopped=request.args.get("stopped"))


@bp.post("/<site_id>/voice-link/new")
@web.require_manager_form
def new(site_id: str):
    """Stop the site's link and make a new one, shown once on this page with its card to print."""
    site, refused = _site(site_id)
    if refused:
        return refused
    token = _ctx().voice_links.make(site["_id"], g.principal.username)
    link = f"{_ctx().settings.checks_public_url.rstrip('/')}/v/{token}"
    return _page(site, new_link=link, qr_svg=link_card.qr_svg(link, f"what people think about {site['name']}"))


@bp.post("/<site_id>/voice-link/stop")
@web.require_manager_form
def stop(site_id: str):
    """Stop the site's link: the card on the board no longer opens anything."""
    site, refused = _site(site_id)
    if refused:
        return refused
    stopped = _ctx().voice_links.stop(site["_id"], g.principal.username)
    return redirect(url_for(".page", site_id=site_id, stopped=str(stopped)), 303)


def _page(site: dict, **shown):
    links = [
        {
            **link,
            "made": long_date(link["created_at"]),
            "used": long_date(link["used_at"]) if link.get("used_at") else None,
            "stopped": long_date(link["stopped_at"]) if link.get("stopped_at") else None,
        }
        for link in _ctx().voice_links.history(site["_id"])
    ]
    page = render_template(
        "manager_voice_link.html",
        nav_current="checkers",
        site=site,
        live=next((link for link in links if not link["stopped"]), None),
        links=links,
        manager_csrf=web.request_csrf_token(),
        **shown,
    )
    # A new link is shown once: never kept in a browser's cache or history.
    return page, 200, {"Cache-Control": "no-store"}
