"""Manager pages of the right of reply: a region's reports, the draft site managers reply to, the published one."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for

from qc import export, periods, web
from services.aggregate.context import ctx, today
from services.aggregate.stores.right_of_reply import MAX_REPLY, ReportError, check_period
from services.aggregate.web import tables

bp = Blueprint("aggregate_reports", __name__, url_prefix="/manager/regions/<region_id>/reports")


def region_manager(region_id: str) -> bool:
    """The region's regional manager, or an organisation-wide role: they list and read every report, drafts too."""
    return g.principal.role != "site_manager" and g.principal.can_see_region(region_id)


def runs_reports(region_id: str) -> bool:
    """Those who prepare and publish a region's reports: its regional manager, the organisation's administrator
    and safeguarding lead. The right of reply is between the regional manager and the site managers; the
    involvement lead reads it (the checkers' words in it are what their programme is for), nothing more."""
    return region_manager(region_id) and g.principal.role != "involvement_lead"


def my_site_in(region_id: str) -> str | None:
    """A site manager's own site, when it is in this region."""
    if g.principal.role != "site_manager" or not g.principal.site_id:
        return None
    site = ctx().directory.site(g.principal.site_id)
    return g.principal.site_id if site and site["region_id"] == region_id else None


def _forbidden():
    return render_template("forbidden.html"), 403


def _missing():
    return render_template("forbidden.html", missing=True), 404


@bp.get("")
@web.require_manager_page
def index(region_id: str):
    """A region's reports, newest first, and the form to prepare one."""
    if not region_manager(region_id):
        return _forbidden()
    return _index(region_id)


def _index(region_id: str, errors: dict | None = None, period: str | None = None, status: int = 200):
    default = periods.previous(periods.current("month", today()))
    page = render_template(
        "reports_list.html",
        region_id=region_id,
        reports=ctx().right_of_reply.for_region(region_id),
        runs=runs_reports(region_id),
        errors=errors or {},
        period=period or default,
        csrf=web.request_csrf_token(),
        nav=None,
    )
    return page, status


@bp.post("")
@web.require_manager_form
def prepare(region_id: str):
    """Prepare (or prepare again) a region's report for a period: a draft shared with its site managers."""
    if not runs_reports(region_id):
        return _forbidden()
    if region_id not in ctx().directory.regions():
        return _missing()
    period = request.form.get("period", "").strip()
    try:
        check_period(period)
        _report, again = ctx().right_of_reply.prepare(region_id, period, g.principal.username)
    except ReportError as e:
        return _index(region_id, {e.field or "period": str(e)}, period, 422 if e.field else e.status)
    target = url_for(".report", region_id=region_id, period=period, prepared="again" if again else "new")
    return redirect(target, code=303)


def _readable(region_id: str, period: str):
    """(report, my site) or a refusal: region managers read every report; a site manager those of their region."""
    mine = my_site_in(region_id)
    if not region_manager(region_id) and mine is None:
        return None, None, _forbidden()
    report = ctx().right_of_reply.get(region_id, period)
    if report is None:
        return None, None, _missing()
    return report, mine, None


@bp.get("/<period>")
@web.require_manager_page
def report(region_id: str, period: str):
    """The report: a draft with the reply form for a site manager, or the published one with every reply."""
    found, mine, refused = _readable(region_id, period)
    if refused:
        return refused
    if request.args.get("format") == "csv":
        show = found["status"] == "published" or region_manager(region_id)  # as the page shows them
        rows = tables.report_sites(found, show, mine)
        filename = export.filename_for("region", region_id, "report", period, found["status"])
        return export.csv_response(rows, filename, tables.REPORT_SITES)
    return _report_page(found, mine)


def _report_page(found: dict, mine: str | None, errors: dict | None = None, draft_text=None, status: int = 200):
    right = ctx().right_of_reply
    page = render_template(
        "report.html",
        report=found,
        mine=mine,
        manager=region_manager(found["region_id"]),
        runs=runs_reports(found["region_id"]),
        replies_open=right.replies_open(found),
        all_replied=right.all_replied(found),
        errors=errors or {},
        draft_text=draft_text,
        max_reply=MAX_REPLY,
        prepared=request.args.get("prepared"),
        saved=request.args.get("saved"),
        csrf=web.request_csrf_token(),
        nav=None,
    )
    return page, status


@bp.get("/<period>/print")
@web.require_manager_page
def printable(region_id: str, period: str):
    """The report on A4, for the region's meeting."""
    found, mine, refused = _readable(region_id, period)
    if refused:
        return refused
    return render_template("report_print.html", report=found, mine=mine, manager=region_manager(region_id), nav=None)


@bp.post("/<period>/replies/<site_id>")
@web.require_manager_form
def reply(region_id: str, period: str, site_id: str):
    """A site manager's reply for their site: written, or changed, until the deadline."""
    mine = my_site_in(region_id)
    if mine is None or mine != site_id:
        return _forbidden()
    text = request.form.get("reply", "")
    try:
        ctx().right_of_reply.reply(region_id, period, site_id, text, g.principal.username)
    except ReportError as e:
        found = ctx().right_of_reply.get(region_id, period)
        if found is None or e.status == 404:
            return _missing()
        return _report_page(found, mine, {"reply": str(e)}, text, e.status)
    return redirect(url_for(".report", region_id=region_id, period=period, saved=1) + "#reply", code=303)


@bp.post("/<period>/publish")
@web.require_manager_form
def publish(region_id: str, period: str):
    """Publish the draft to the region: after its deadline, or once every site has replied."""
    if not runs_reports(region_id):
        return _forbidden()
    try:
        ctx().right_of_reply.publish(region_id, period, g.principal.username)
    except ReportError as e:
        found = ctx().right_of_reply.get(region_id, period)
        if found is None:
            return _missing()
        return _report_page(found, None, {"publish": str(e)}, status=e.status)
    return redirect(url_for(".report", region_id=region_id, period=period), code=303)
