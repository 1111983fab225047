"""Manager pages: organisation, region, site, theme, team feedback and WTFC pack; a CSV of every table."""

from __future__ import annotations

import math

from flask import Blueprint, g, redirect, render_template, request, url_for

from qc import export, periods, question_words, web
from qc.themes import OTHER, OTHER_LABEL
from services.aggregate.context import ctx, period_arg, today
from services.aggregate.stores import actions as site_actions
from services.aggregate.web import charts, period_picker, tables, team_feedback, texts, wtfc

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
    if request.args.get("format") == "csv":
        rows = [{"region_id": r, **reports.rollup("region", r, period)} for r in ctx().directory.regions()]
        return _download({"regions": lambda: (tables.regions(rows), tables.REGIONS)}, "org", "all", period)
    regions = [
        {
            "region_id": r,
            **reports.rollup("region", r, period),
            "trend": charts.sparkline(reports.trend("region", r, period)),
        }
        for r in ctx().directory.regions()
    ]
    return _period_page("org.html", period, ("regions",), regions=regions, org=reports.rollup("org", "all", period))


def _visible_site(site_id: str):
    """The site, or the refusal (404 unknown, 403 outside what the manager may see)."""
    site_doc = ctx().directory.site(site_id)
    if site_doc is None:
        return None, (render_template("forbidden.html", missing=True), 404)
    if not g.principal.can_see_site(site_id, site_doc["region_id"]):
        return None, (render_template("forbidden.html"), 403)
    return site_doc, None


def _site_period(site_id: str):
    """(site, period, refusal) for a page about one site: a site out of scope or a bad period refuses it."""
    site_doc, refusal = _visible_site(site_id)
    period, error = period_arg() if refusal is None else (None, None)
    return site_doc, period, refusal or error


def _region_period(region_id: str):
    """The period asked for on a region's page, or the refusal (403 outside the manager's regions, 400 bad period)."""
    if g.principal.role == "site_manager" or not g.principal.can_see_region(region_id):
        return None, (render_template("forbidden.html"), 403)
    return period_arg()


@bp.get("/manager/regions/<region_id>")
@web.require_manager_page
def region(region_id: str):
    """A region's sites, sortable by score, change and days since last check; coverage gaps; themes."""
    period, refusal = _region_period(region_id)
    if refusal:
        return refusal
    sort = request.args.get("sort", "score") if request.args.get("sort") in SORTS else "score"
    descending = request.args.get("dir") == "desc"
    reports = ctx().reports
    rows = sort_rows(reports.overview(region_id, period, today()), sort, descending)
    if request.args.get("format") == "csv":
        downloads = {
            "sites": lambda: (rows, tables.SITES),
            "coverage": lambda: (tables.coverage(rows), tables.COVERAGE),
            "themes": lambda: (tables.themes(reports.themes_for(period, region_id=region_id)), tables.THEMES),
            "trend": lambda: (tables.trend(reports.trend("region", region_id, period)), tables.TREND),
        }
        return _download(downloads, "region", region_id, period)
    return _period_page(
        "region.html",
        period,
        ("sites", "coverage", "themes", "trend"),
        csv_args={"sort": sort, "dir": request.args.get("dir")},
        region_id=region_id,
        rows=rows,
        sort=sort,
        descending=descending,
        **_scores("region", region_id, period),
        themes=reports.themes_for(period, region_id=region_id),
        unchecked=[r for r in rows if not r["checks"]],
        not_recent=[r for r in rows if not tables.checked_recently(r)],
        recent_days=tables.RECENT_DAYS,
        without_checker=[r for r in rows if not r["has_active_checker"]],
        gaps=tables.coverage(rows),
        grid=reports.coverage_grid(region_id, periods.current("month", periods.last_day(period))),
        theme_scope={"region_id": region_id},
    )


@bp.get("/manager/sites/<site_id>")
@web.require_manager_page
def site(site_id: str):
    """A site's trend, answers per question and latest comments."""
    site_doc, period, refusal = _site_period(site_id)
    if refusal:
        return refusal
    reports = ctx().reports
    if request.args.get("format") == "csv":
        downloads = {
            "questions": lambda: (tables.questions(reports.rollup("site", site_id, period)), tables.QUESTIONS),
            "comments": lambda: (ctx().texts.comment_rows(ctx().texts.latest_comments(site_id)), tables.COMMENTS),
            "themes": lambda: (tables.themes(reports.themes_for(period, site_id=site_id)), tables.THEMES),
            "trend": lambda: (tables.trend(reports.trend("site", site_id, period)), tables.TREND),
        }
        return _download(downloads, "site", site_id, period)
    return _period_page(
        "site.html",
        period,
        ("questions", "comments", "themes", "trend"),
        site=site_doc,
        **_scores("site", site_id, period),
        comments=ctx().texts.latest_comments(site_id),
        themes=reports.themes_for(period, site_id=site_id),
        theme_scope={"site_id": site_id},
        # Site managers are asked for a reply here, as it is where /manager takes them.
        waiting=(
            ctx().right_of_reply.waiting_for(site_id, site_doc["region_id"])
            if g.principal.role == "site_manager"
            else []
        ),
        actions=ctx().site_actions.for_site(site_id, site_doc.get("region_id")),
        action_states=site_actions.STATES,
    )


@bp.get("/manager/sites/<site_id>/team-feedback")
@web.require_manager_page
def site_team_feedback(site_id: str):
    """A site's key questions for a month and their trend, for the team leader to take to supervision."""
    site_doc, period, refusal = _site_period(site_id)
    if refusal:
        return refusal
    try:
        report = ctx().team_feedback.for_site(site_id, period)
    except periods.PeriodError as e:
        return web.problem(400, "Months only", str(e), errors=[{"field": "period", "message": str(e)}])
    if request.args.get("format") == "csv":
        table = {"team_feedback": lambda: (team_feedback.rows(report), team_feedback.COLUMNS)}
        return _download(table, "site", site_id, period, "team-feedback")
    for q in report["questions"]:
        q["chart"] = charts.share_line(q["trend"])
    return _period_page("team_feedback.html", period, ("team_feedback",), site=site_doc, report=report)


@bp.get("/manager/regions/<region_id>/wtfc-pack")
@web.require_manager_page
def wtfc_pack(region_id: str):
    """A region's Working Together for Change pack for a period: themes, counts, anonymised quotes; A4."""
    period, refusal = _region_period(region_id)
    if refusal:
        return refusal
    data = wtfc.pack(ctx().reports.store.facts, ctx().reports.themes, region_id, period)
    if request.args.get("format") == "csv":
        return _download({"themes": lambda: (tables.themes(data), tables.THEMES)}, "region", region_id, period, "wtfc")
    return _period_page("wtfc_pack.html", period, ("themes",), region_id=region_id, pack=data)


@bp.get("/manager/themes/<kind>/<theme_id>")
@web.require_manager_page
def theme(kind: str, theme_id: str):
    """The texts behind one theme of a site, a region or (organisation-wide roles) everyone, in a period."""
    region_id, site_id = request.args.get("region_id"), request.args.get("site_id")
    if site_id:
        _site, refusal = _visible_site(site_id)
        if refusal:
            return refusal
        region_id = None  # the site's own texts, whatever region was asked for
    elif region_id:
        if g.principal.role == "site_manager" or not g.principal.can_see_region(region_id):
            return render_template("forbidden.html"), 403
    elif not g.principal.can_see_region(None):
        return render_template("forbidden.html"), 403
    labels = {t.id: t.label for t in ctx().reports.themes} | {OTHER: OTHER_LABEL}
    if kind not in texts.QUESTIONS or theme_id not in labels:
        return render_template("forbidden.html", missing=True), 404
    period, error = period_arg()
    if error:
        return error
    rows, withheld = ctx().texts.theme_texts(kind, theme_id, period, region_id=region_id, site_id=site_id)
    scope = ("site", site_id) if site_id else ("region", region_id) if region_id else ("org", "all")
    if request.args.get("format") == "csv":
        return _download({"texts": lambda: (rows, tables.THEME_TEXTS)}, *scope, period, f"{kind}-{theme_id}")
    return _period_page(
        "theme.html",
        period,
        ("texts",),
        csv_args={"region_id": region_id, "site_id": site_id},
        kind=kind,
        question=texts.QUESTIONS[kind],
        label=labels[theme_id],
        scope=scope,
        site_name=(ctx().directory.site(site_id) or {}).get("name", site_id) if site_id else None,
        rows=rows,
        withheld=withheld,
        min_people=ctx().texts.min_people,
    )


def _download(tables_by_name: dict, scope: str, entity_id: str, period: str, what: str = ""):
    """The CSV of the table named by ``?table=`` (the first one by default), named for its scope and period."""
    name = request.args.get("table") or next(iter(tables_by_name))
    if name not in tables_by_name:
        return render_template("forbidden.html", missing=True), 404
    rows, columns = tables_by_name[name]()
    return export.csv_response(rows, export.filename_for(scope, entity_id, what or name, period), columns)


def _period_page(template: str, period: str, table_names: tuple[str, ...], csv_args: dict | None = None, **values):
    """A manager's page of one period: its values, the period picker, and where each of its tables downloads."""
    csv = _csv_urls(*table_names, period=period, **(csv_args or {}))
    return render_template(template, period=period, nav=period_picker.nav(period, today()), csv=csv, **values)


def _csv_urls(*names: str, **args) -> dict[str, str]:
    """Where each of this page's tables downloads as CSV (the same page, scope and period)."""
    keep = {k: v for k, v in args.items() if v}
    return {n: url_for(request.endpoint, **request.view_args, **keep, format="csv", table=n) for n in names}


def _scores(kind: str, entity_id: str, period: str) -> dict:
    """A region's or a site's roll-up of the period and its trend, with their charts."""
    trend = ctx().reports.trend(kind, entity_id, period)
    rollup = ctx().reports.rollup(kind, entity_id, period)
    bars = charts.stacked_bars(rollup.get("questions") or {}, _question_words)
    return {"rollup": rollup, "trend": trend, **charts.trend_lines(trend), "bars": bars}


def _question_words(question_id: str) -> str:
    return question_words.text(question_id, ctx().settings.schemas_dir)
