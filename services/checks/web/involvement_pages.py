"""The involvement report's page (involvement.py computes it): a region's or the organisation's, for a quarter.

Regional managers read their region's; the organisation administrator and the involvement lead any region's
or the whole organisation's. HTML with the easy-read summary first, a version to print on A4
(``?format=print``) and a CSV (``?format=csv``). Counts only, no words anyone wrote; the only names are
those shown with each version of the questions, of people who agreed to be named there.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, render_template, request

from qc import export, periods, themes, web
from qc.mongo import find_in
from services.checks.rules.question_drafting import credit_words
from services.checks.stores.contributions import Contributions
from services.checks.stores.question_sets import QuestionSets
from services.checks.web import involvement

bp = Blueprint("involvement", __name__, url_prefix="/manager/involvement")
MAY_READ = ("regional_manager", "org_admin", "involvement_lead")
KINDS = ("quarter", "month")


def _ctx():
    return current_app.extensions["qc.checks"]


def _today() -> dt.date:
    return dt.datetime.now(ZoneInfo(_ctx().settings.timezone)).date()


def _period() -> str | None:
    text = request.args.get("period") or periods.current("quarter", _today())
    try:
        return text if periods.kind_of(text) in KINDS else None
    except periods.PeriodError:
        return None


@bp.get("")
@web.require_manager_page
def report():
    """The report for the region (or organisation) and period asked for; a CSV or the A4 version on request."""
    principal = g.principal
    if principal.role not in MAY_READ:
        return render_template("problem.html", heading="This report is for regional managers"), 403
    region_id = request.args.get("region_id") or (principal.region_id if principal.role == "regional_manager" else None)
    region = _ctx().directory.regions.find_one({"_id": region_id}) if region_id else None
    period = _period()
    if (region_id and region is None) or not principal.can_see_region(region_id) or period is None:
        return render_template("problem.html", heading="We cannot find this report"), 404
    found = build(region_id, period)
    place = region.get("name") or region_id if region else "the whole organisation"
    if request.args.get("format") == "csv":
        name = export.filename_for("involvement", region_id or "all", period)
        return export.csv_response(involvement.csv_rows(found), name, involvement.CSV_COLUMNS)
    return render_template(
        "involvement.html",
        printing=request.args.get("format") == "print",  # the A4 version: no navigation, no choosers
        nav_current=None if request.args.get("format") == "print" else "checkers",
        report=found,
        place=place,
        region_id=region_id,
        period=period,
        period_words=periods.words(period),
        quarters=periods.series(periods.current("quarter", _today()), 8)[::-1],
        regions=[] if principal.region_id else list(_ctx().directory.regions.find({}, {"name": 1}, sort=[("_id", 1)])),
        better_words=involvement.BETTER_WORDS,
    )


def build(region_id: str | None, period: str) -> dict:
    """Read what the report counts, for a region (or everyone) and a period, and count it."""
    directory, submissions = _ctx().directory, _ctx().submissions
    window = involvement.Window(periods.first_day(period), periods.last_day(period))
    sites = list(directory.sites.find({"region_id": region_id} if region_id else {}, {"active": 1}))
    site_ids = [s["_id"] for s in sites]
    checkers = list(find_in(directory.people, "site_id", site_ids, {"role": "checker"}, {"active": 1, "record": 1}))
    ids = [p["_id"] for p in checkers]
    days = {"$gte": window.first.isoformat(), "$lte": window.last.isoformat()}
    entries = list(find_in(Contributions(_ctx().db).collection, "checker_id", ids, {"date": days}))
    fields = {"event": 0}

    def records_in(first: dt.date, last: dt.date, who: list[str]) -> list[dict]:
        span = {"visited_on": {"$gte": first.isoformat(), "$lte": last.isoformat()}}
        return submissions.settle(list(find_in(submissions.collection, "checker_id", who, span, fields)))

    records = records_in(window.first, window.last, ids)
    before = periods.previous(period)
    earlier = records_in(periods.first_day(before), periods.last_day(before), ids)
    voices = records_in(window.first, window.last, [f"voice:{s}" for s in site_ids])
    confidence = _confidence_ids()
    active_sites = sum(1 for s in sites if s.get("active", True))
    return {
        "people": involvement.people(checkers, window),
        "time": involvement.time_given(entries, window),
        "checks": involvement.checks(records, active_sites, confidence),
        "before": {"period": before, **involvement.checks(earlier, active_sites, confidence)},
        "voices": sum(1 for r in voices if r.get("status") == "validated"),
        "done": involvement.said_and_done(records, themes.labels(_ctx().settings.themes_path)),
        "question_sets": _question_sets(records),
        "shaped": _shaped(),
    }


def _shaped() -> list[dict]:
    """Each version of the questions made with people, and who shaped it (names only of those who agreed)."""
    published = _ctx().question_sets.published(QuestionSets.CURRENT_ID)
    return [{"version": qs["version"], "words": credit_words(qs["credits"])} for qs in published if qs.get("credits")]


def _confidence_ids() -> frozenset[str]:
    """The questions asking whether things will get better, in every version of the question set."""
    every = (q for qs in _ctx().question_sets.all() for q in qs["questions"])
    return frozenset(q["id"] for q in every if q.get("kind") == "confidence")


def _question_sets(records: list[dict]) -> dict[str, int]:
    """How many counted checks used each version of the questions."""
    out: dict[str, int] = {}
    for r in records:
        if r.get("status") == "validated" and r.get("question_set"):
            name = f"{r['question_set']['id']} version {r['question_set']['version']}"
            out[name] = out.get(name, 0) + 1
    return dict(sorted(out.items()))
