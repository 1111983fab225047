"""Manager pages: organisation, region overview (sortable, CSV) and site pages, server-rendered."""

from __future__ import annotations

import math

from flask import Blueprint, g, redirect, render_template, request, url_for

from qc import periods, web
from services.aggregate import charts, export
from services.aggregate.context import ctx, period_arg, today

bp = Blueprint("aggregate_pages", __name__)
SORTS = {
    "site": lambda r: r["site_id"],
    "score": lambda r: r["score"],
    "change": lambda r: r["score_change"],
    # Never checked is the longest wait of all, not "unknown".
    "days": lambda r: math.inf if r["days_since_last_check"] is None else r["days_since_last_check"],
    "checks": lambda r: r["checks"],
}


def sort_rows(rows: list[dict], key: str, descending: bool) -> list[dict]:
    """Sorted by ``key``; rows without a value (never checked, no score) stay last either way."""
    value = SORTS[key]
    known = sorted((r for r in rows if value(r) is not None), key=value, reverse=descending)
    return known + [r for r in rows if value(r) is None]


@bp.get("/manager")
@web.require_manager_page
def home():
    """Where a manager starts: their site, their region, or the organisation."""
    principal = g.principal
    if principal.role == "site_manager":
        return redirect(url_for("aggregate_pages.site", site_id=principal.site_id))
    if principal.role == "regional_manager":
        return redirect(url_for("aggregate_pages.region", region_id=principal.region_id))
    return redirect(url_for("aggregate_pages.organisation"))


@bp.get("/manager/org")
@web.require_manager_page
def organisation():
    """Every region at a glance (organisation-wide roles)."""
    if not g.principal.can_see_region(None):
        return render_template("forbidden.html"), 403
    period, error = period_arg()
    if error:
        return error
    reports = ctx().reports
    regions = [
        {
            "region_id": r,
            **reports.rollup("region", r, period),
            "trend": charts.sparkline(reports.trend("region", r, period)),
        }
        for r in ctx().directory.regions()
    ]
    return render_template(
        "org.html", period=period, regions=regions, org=reports.rollup("org", "all", period), nav=_nav(period)
    )


@bp.get("/manager/regions/<region_id>")
@web.require_manager_page
def region(region_id: str):
    """A region's sites, sortable by score, change and days since last check; coverage gaps; themes."""
    if g.principal.role == "site_manager" or not g.principal.can_see_region(region_id):
        return render_template("forbidden.html"), 403
    period, error = period_arg()
    if error:
        return error
    sort = request.args.get("sort", "score") if request.args.get("sort") in SORTS else "score"
    descending = request.args.get("dir") == "desc"
    reports = ctx().reports
    rows = sort_rows(reports.overview(region_id, period, today()), sort, descending)
    if request.args.get("format") == "csv":
        return export.csv_response(rows, f"region-{region_id}-{period}.csv")
    trend = reports.trend("region", region_id, period)
    return render_template(
        "region.html",
        region_id=region_id,
        period=period,
        rows=rows,
        sort=sort,
        descending=descending,
        rollup=reports.rollup("region", region_id, period),
        trend=trend,
        chart=charts.sparkline(trend),
        themes=reports.themes_for(period, region_id=region_id),
        nav=_nav(period),
        unchecked=[r for r in rows if not r["checks"]],
        without_checker=[r for r in rows if not r["has_active_checker"]],
    )


@bp.get("/manager/sites/<site_id>")
@web.require_manager_page
def site(site_id: str):
    """A site's trend, answers per question and latest comments."""
    site_doc = ctx().directory.site(site_id)
    if site_doc is None:
        return render_template("forbidden.html", missing=True), 404
    if not g.principal.can_see_site(site_id, site_doc["region_id"]):
        return render_template("forbidden.html"), 403
    period, error = period_arg()
    if error:
        return error
    reports = ctx().reports
    trend = reports.trend("site", site_id, period)
    return render_template(
        "site.html",
        site=site_doc,
        period=period,
        rollup=reports.rollup("site", site_id, period),
        trend=trend,
        chart=charts.sparkline(trend),
        comments=reports.latest_comments(site_id),
        nav=_nav(period),
    )


def _nav(period: str) -> dict:
    return {
        "previous": periods.previous(period),
        "next": periods.shift(period, 1),
        "kind": periods.kind_of(period),
        "checks_url": ctx().settings.checks_public_url.rstrip("/"),
    }
