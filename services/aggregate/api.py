"""The roll-up API: figures per site and region, and coverage gaps."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, g, request

from qc import periods, web
from services.aggregate import handlers

bp = Blueprint("aggregate_api", __name__, url_prefix="/api/v1")
_HIDDEN = ("_id", "score_sum", "answered", "updated_at")


def _store():
    return current_app.extensions["qc.aggregate"]


def _period():
    """The ``period`` query parameter (default: this month), or a problem document."""
    period = request.args.get("period") or dt.date.today().strftime("%Y-%m")
    try:
        periods.kind_of(period)
    except periods.PeriodError as e:
        return None, web.problem(400, "Unknown period", str(e), errors=[{"field": "period", "message": str(e)}])
    return period, None


def _public(rollup: dict) -> dict:
    out = {k: v for k, v in rollup.items() if k not in _HIDDEN}
    out["updated_at"] = rollup["updated_at"].isoformat() if rollup.get("updated_at") else None
    return out


@bp.get("/rollups/sites/<site_id>")
@web.require_manager
def site_rollup(site_id: str):
    """One site's roll-up for a period."""
    period, error = _period()
    if error:
        return error
    store = _store()
    site = store.site(site_id)
    if site is None:
        return web.problem(404, "Unknown site", f"There is no site {site_id}.")
    if not g.principal.can_see_site(site_id, site["region_id"]):
        return web.forbidden(f"site {site_id}")
    rollup = store.rollup("site", site_id, period) or handlers.site_rollup(site_id, site["region_id"], period, [])
    return _public(rollup)


@bp.get("/rollups/regions/<region_id>")
@web.require_manager
def region_rollup(region_id: str):
    """One region's roll-up for a period."""
    period, error = _period()
    if error:
        return error
    if g.principal.role == "site_manager" or not g.principal.can_see_region(region_id):
        return web.forbidden(f"region {region_id}")
    store = _store()
    rollup = store.rollup("region", region_id, period) or handlers.region_rollup(region_id, period, [])
    out = _public(rollup)
    out["sites"] = len(store.sites_in_region(region_id))
    return out


@bp.get("/coverage")
@web.require_manager
def coverage():
    """The sites of a region with no check in a period."""
    period, error = _period()
    if error:
        return error
    region_id = request.args.get("region_id") or g.principal.region_id
    if not region_id:
        return web.problem(
            400, "Which region?", "Give 'region_id'.", errors=[{"field": "region_id", "message": "Required."}]
        )
    if g.principal.role == "site_manager" or not g.principal.can_see_region(region_id):
        return web.forbidden(f"region {region_id}")
    store = _store()
    checked = {r["site_id"] for r in store.site_rollups(region_id, period) if r["checks"]}
    sites = store.sites_in_region(region_id)
    unchecked = [{"site_id": s["_id"], "name": s["name"]} for s in sites if s["_id"] not in checked]
    return {
        "region_id": region_id,
        "period": period,
        "sites": len(sites),
        "sites_checked": len(sites) - len(unchecked),
        "sites_without_check": unchecked,
    }
