"""The roll-up API: figures per site, region and organisation; trends, coverage, overview, themes."""

from __future__ import annotations

from flask import Blueprint, g, request

from qc import export, periods, web
from qc.themes import OTHER, OTHER_LABEL
from services.aggregate.context import ctx, period_arg, today
from services.aggregate.stores import right_of_reply
from services.aggregate.web import tables, team_feedback, texts

bp = Blueprint("aggregate_api", __name__, url_prefix="/api/v1")
MAX_TREND = 60


def _site_allowed(site_id: str):
    """The site, or a problem document (unknown site, or not this manager's)."""
    site = ctx().directory.site(site_id)
    if site is None:
        return None, web.problem(404, "Unknown site", f"There is no site {site_id}.")
    if not g.principal.can_see_site(site_id, site["region_id"]):
        return None, web.forbidden(f"site {site_id}")
    return site, None


def _region_allowed(region_id: str | None):
    if not region_id:
        message = "Give 'region_id'."
        return web.problem(400, "Which region?", message, errors=[{"field": "region_id", "message": message}])
    if g.principal.role == "site_manager" or not g.principal.can_see_region(region_id):
        return web.forbidden(f"region {region_id}")
    return None


def _region_period(region_id: str | None):
    """(period, refusal) for a request about one region: a bad period or a region out of scope refuses it."""
    period, error = period_arg()
    return period, error or _region_allowed(region_id)


def _org_allowed():
    if not g.principal.can_see_region(None):
        return web.forbidden("the whole organisation")
    return None


def _scope_allowed(region_id: str | None, site_id: str | None):
    """None, or the refusal of a request about one site, else one region, else the whole organisation."""
    if site_id:
        return _site_allowed(site_id)[1]
    return _region_allowed(region_id) if region_id else _org_allowed()


def _count():
    raw = request.args.get("count", "12")
    # isascii: str.isdigit() is also true for "²" and other scripts' digits, which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_TREND:
        message = f"'count' must be a whole number from 1 to {MAX_TREND}."
        return None, web.problem(400, "Wrong count", message, errors=[{"field": "count", "message": message}])
    return int(raw), None


@bp.get("/rollups/sites/<site_id>")
@web.require_manager
def site_rollup(site_id: str):
    """One site's roll-up for a period, with change against the previous period."""
    period, error = period_arg()
    _site, denied = _site_allowed(site_id)
    return error or denied or ctx().reports.rollup("site", site_id, period)


@bp.get("/rollups/regions/<region_id>")
@web.require_manager
def region_rollup(region_id: str):
    """One region's roll-up for a period."""
    period, refusal = _region_period(region_id)
    if refusal:
        return refusal
    out = ctx().reports.rollup("region", region_id, period)
    out["sites"] = len(ctx().directory.sites_in_region(region_id))
    return out


@bp.get("/rollups/org")
@web.require_manager
def org_rollup():
    """The whole organisation's roll-up for a period (organisation-wide roles)."""
    period, error = period_arg()
    return error or _org_allowed() or ctx().reports.rollup("org", "all", period)


@bp.get("/rollups/<scope>/<entity_id>/trend")
@bp.get("/rollups/<scope>/trend", defaults={"entity_id": "all"})
@web.require_manager
def trend(scope: str, entity_id: str):
    """The last ``count`` periods (default 12) up to ``period``: checks, score, share of good."""
    period, error = period_arg()
    count, count_error = _count()
    if error or count_error:
        return error or count_error
    if scope == "sites":
        _site, denied = _site_allowed(entity_id)
    elif scope == "regions":
        denied = _region_allowed(entity_id)
    elif scope == "org" and entity_id == "all":
        denied = _org_allowed()
    else:
        return web.problem(404, "Not found", "Trends are for sites, regions or org.")
    if denied:
        return denied
    kind = {"sites": "site", "regions": "region", "org": "org"}[scope]
    return {"scope": kind, "id": entity_id, "trend": ctx().reports.trend(kind, entity_id, period, count)}


@bp.get("/coverage")
@web.require_manager
def coverage():
    """Sites of a region with no check in a period or no active checker, and days since each site's last check."""
    region_id = request.args.get("region_id") or g.principal.region_id
    period, refusal = _region_period(region_id)
    return refusal or ctx().reports.coverage(region_id, period, today())


@bp.get("/regions/<region_id>/overview")
@web.require_manager
def overview(region_id: str):
    """One row per site of a region; ``?format=csv`` for a spreadsheet."""
    period, refusal = _region_period(region_id)
    if refusal:
        return refusal
    rows = ctx().reports.overview(region_id, period, today())
    if request.args.get("format") == "csv":
        return export.csv_response(rows, export.filename_for("overview", region_id, period), tables.SITES)
    return {"region_id": region_id, "period": period, "sites": rows}


@bp.get("/themes")
@web.require_manager
def themes():
    """What is working / not working, grouped into themes, for a region (or everyone, or one site)."""
    period, error = period_arg()
    if error:
        return error
    region_id, site_id = request.args.get("region_id"), request.args.get("site_id")
    return _scope_allowed(region_id, site_id) or ctx().reports.themes_for(period, region_id=region_id, site_id=site_id)


@bp.get("/sites/<site_id>/comments")
@web.require_manager
def comments(site_id: str):
    """The newest free-text answers of a site: named ones dated, anonymous ones apart (see Texts)."""
    _site, denied = _site_allowed(site_id)
    if denied:
        return denied
    latest = ctx().texts.latest_comments(site_id)
    return {
        "site_id": site_id,
        "comments": latest["named"],
        "anonymous": latest["anonymous"],
        "anonymous_withheld": latest["withheld"],
        "anonymous_withheld_why": latest["why"],
    }


@bp.get("/sites/<site_id>/team-feedback")
@web.require_manager
def site_team_feedback(site_id: str):
    """A site's key questions for a month, with their 12-month trend; months with too few people withheld."""
    period, error = period_arg()
    _site, denied = _site_allowed(site_id)
    if error or denied:
        return error or denied
    try:
        report = ctx().team_feedback.for_site(site_id, period)
    except periods.PeriodError as e:
        return web.problem(400, "Months only", str(e), errors=[{"field": "period", "message": str(e)}])
    if request.args.get("format") == "csv":
        filename = export.filename_for("site", site_id, "team-feedback", period)
        return export.csv_response(team_feedback.rows(report), filename, team_feedback.COLUMNS)
    return report


@bp.get("/themes/<kind>/<theme_id>/submissions")
@web.require_manager
def theme_texts(kind: str, theme_id: str):
    """The texts behind one theme in a period, for a site, a region or everyone; ``?format=csv`` for a spreadsheet."""
    period, error = period_arg()
    if error:
        return error
    region_id, site_id = request.args.get("region_id"), request.args.get("site_id")
    if site_id:
        region_id = None  # the site's own texts, whatever region was asked for
    denied = _scope_allowed(region_id, site_id)
    if denied:
        return denied
    labels = {t.id: t.label for t in ctx().reports.themes} | {OTHER: OTHER_LABEL}
    if kind not in texts.QUESTIONS:
        return web.problem(404, "Not found", "The kind of text is 'working' or 'not_working'.")
    if theme_id not in labels:
        return web.problem(404, "Unknown theme", f"There is no theme {theme_id}; see deploy/themes.yaml.")
    rows, withheld = ctx().texts.theme_texts(kind, theme_id, period, region_id=region_id, site_id=site_id)
    if request.args.get("format") == "csv":
        scope = ("site", site_id) if site_id else ("region", region_id) if region_id else ("org", "all")
        return export.csv_response(rows, export.filename_for(*scope, kind, theme_id, period), tables.THEME_TEXTS)
    return {
        "period": period,
        "region_id": region_id,
        "site_id": site_id,
        "kind": kind,
        "question": texts.QUESTIONS[kind],
        "theme": theme_id,
        "label": labels[theme_id],
        "texts": rows,
        # Anonymous texts from a site and month with too few different checkers to hide among.
        "anonymous_withheld": withheld,
    }


def _report_json(doc: dict, full: bool) -> dict:
    """A region report for the API: dates as ISO 8601; the sites, region, themes and replies when ``full``."""
    out = {
        "region_id": doc["region_id"],
        "period": doc["period"],
        "status": doc["status"],
        "shared_at": doc["shared_at"].isoformat(),
        "reply_by": doc["reply_by"],
        "prepared_at": doc["prepared_at"].isoformat(),
        "prepared_by": doc["prepared_by"],
        "published_at": doc["published_at"].isoformat() if doc.get("published_at") else None,
        "published_by": doc.get("published_by"),
        "replies": len(doc.get("replies", {})),
        "sites": len(doc["sites"]),
    }
    if full:
        out.update(
            sites=tables.report_sites(doc),
            region=doc["region"],
            themes=doc["themes"],
            history=[{**h, "at": h["at"].isoformat()} for h in doc["agg_report_history"]],
        )
    return out


@bp.get("/regions/<region_id>/reports")
@web.require_manager
def region_reports(region_id: str):
    """A region's periodic reports (drafts and published), newest period first."""
    denied = _region_allowed(region_id)
    if denied:
        return denied
    docs = ctx().right_of_reply.for_region(region_id)
    return {"region_id": region_id, "reports": [_report_json(d, full=False) for d in docs]}


@bp.get("/regions/<region_id>/reports/<period>")
@web.require_manager
def region_report(region_id: str, period: str):
    """One region report: the frozen figures per site, each with its site manager's reply."""
    denied = _region_allowed(region_id)
    if denied:
        return denied
    try:
        right_of_reply.check_period(period)
    except right_of_reply.ReportError as e:
        return web.problem(400, "Unknown period", str(e), errors=[{"field": "period", "message": str(e)}])
    doc = ctx().right_of_reply.get(region_id, period)
    if doc is None:
        return web.problem(404, "No report", f"Region {region_id} has no report for {period}.")
    return _report_json(doc, full=True)
