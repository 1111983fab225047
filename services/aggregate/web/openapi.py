"""The aggregate service's API (roll-ups, trends, coverage, themes, texts, team feedback, reports) as OpenAPI."""

from __future__ import annotations

from marshmallow import fields

from qc import openapi
from qc.openapi import Output, operation
from services.aggregate.web.api import MAX_TREND


class Rollup(Output):
    """A site's, region's or the organisation's figures for a period (zeros when nothing was checked)."""

    scope = fields.String(required=True, metadata={"enum": ["site", "region", "org"]})
    period = fields.String(required=True)
    checks = fields.Integer(required=True)
    score = fields.Float(required=True, allow_none=True, metadata={"description": "1 (not good) to 3 (good)"})
    questions = fields.Dict(required=True, metadata={"description": "each question's answers and shares"})
    answered_by = fields.Dict(required=True, metadata={"description": "checks by who wrote the answers"})
    confidence = fields.Dict(required=True, metadata={"description": "how sure people are things will get better"})
    updated_at = fields.String(required=True, allow_none=True)


class TrendPoint(Output):
    period = fields.String(required=True)
    checks = fields.Integer(required=True)
    score = fields.Float(required=True, allow_none=True)
    share_good = fields.Float(required=True, allow_none=True)
    confidence = fields.Dict(required=True)


class Trend(Output):
    scope = fields.String(required=True)
    id = fields.String(required=True)
    trend = fields.List(fields.Nested(TrendPoint), required=True, metadata={"description": "oldest first"})


class Coverage(Output):
    region_id = fields.String(required=True)
    period = fields.String(required=True)
    sites = fields.Integer(required=True)


class Overview(Output):
    region_id = fields.String(required=True)
    period = fields.String(required=True)
    sites = fields.List(fields.Dict(), required=True, metadata={"description": "one row per active site"})


class Themes(Output):
    period = fields.String(required=True)
    region_id = fields.String(required=True, allow_none=True)
    site_id = fields.String(required=True, allow_none=True)
    submissions = fields.Integer(required=True)


class Comments(Output):
    site_id = fields.String(required=True)
    comments = fields.List(fields.Dict(), required=True, metadata={"description": "shared named: dated, named"})
    anonymous = fields.List(fields.String(), required=True, metadata={"description": "undated, alphabetical"})
    anonymous_withheld = fields.Integer(required=True, metadata={"description": "how many anonymous texts"})
    anonymous_withheld_why = fields.String(required=True, allow_none=True)


class TeamFeedback(Output):
    site_id = fields.String(required=True)
    period = fields.String(required=True)
    min_answers = fields.Integer(required=True)
    questions = fields.List(fields.Dict(), required=True)


class ThemeTexts(Output):
    period = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": ["working", "not_working"]})
    theme = fields.String(required=True)
    label = fields.String(required=True)
    texts = fields.List(fields.Dict(), required=True)
    anonymous_withheld = fields.Integer(required=True)


class ReportSummary(Output):
    region_id = fields.String(required=True)
    period = fields.String(required=True)
    status = fields.String(required=True)
    reply_by = fields.String(required=True)
    published_at = fields.String(required=True, allow_none=True)


class Reports(Output):
    region_id = fields.String(required=True)
    reports = fields.List(fields.Nested(ReportSummary), required=True)


class Report(ReportSummary):
    region = fields.Dict(required=True)
    themes = fields.Dict(required=True)
    history = fields.List(fields.Dict(), required=True)


PERIOD = openapi.query("period", "a month (2026-11), week (2026-W45) or quarter (2026-Q4); this month if left out")
MONTH = openapi.query("period", "a month (2026-11); this month if left out")
CSV_FORMAT = openapi.query("format", "csv for a spreadsheet", enum=["csv"])
SITE = openapi.path_parameter("site_id", "the site's id", "S0001")
REGION = openapi.path_parameter("region_id", "the region's id", "R01")
IN_REGION = openapi.query("region_id", "one region's")
IN_SITE = openapi.query("site_id", "one site's (instead of a region)")
ROLLUP = (200, Rollup, "The roll-up")


def _get(summary: str, ok: tuple, *parameters: dict, problems=(400, 403, 404), csv: bool = False) -> dict:
    return {"get": operation(summary, ok, problems=problems, parameters=parameters, csv=csv, tag="roll-ups")}


PATHS = {
    "/api/v1/rollups/sites/{site_id}": _get("One site's roll-up for a period", ROLLUP, SITE, PERIOD),
    "/api/v1/rollups/regions/{region_id}": _get("One region's roll-up for a period", ROLLUP, REGION, PERIOD),
    "/api/v1/rollups/org": _get("The whole organisation's roll-up (organisation-wide roles)", ROLLUP, PERIOD),
    "/api/v1/rollups/{scope}/{entity_id}/trend": _get(
        "The last 'count' periods up to 'period' for a site or region",
        (200, Trend, "The trend"),
        openapi.path_parameter("scope", "sites or regions"),
        openapi.path_parameter("entity_id", "the site's or region's id"),
        PERIOD,
        openapi.query("count", f"how many periods, 1 to {MAX_TREND} (12 if left out)"),
    ),
    "/api/v1/rollups/org/trend": _get(
        "The organisation's trend (organisation-wide roles)",
        (200, Trend, "The trend"),
        PERIOD,
        openapi.query("count", f"how many periods, 1 to {MAX_TREND} (12 if left out)"),
    ),
    "/api/v1/coverage": _get(
        "A region's sites with no check in the period or no active checker, and days since each last check",
        (200, Coverage, "The coverage"),
        PERIOD,
        openapi.query("region_id", "the region (the manager's own if left out)"),
    ),
    "/api/v1/regions/{region_id}/overview": _get(
        "One row per site of a region", (200, Overview, "The overview"), REGION, PERIOD, CSV_FORMAT, csv=True
    ),
    "/api/v1/themes": _get(
        "What is working and not working, grouped into themes (a site's, a region's or everyone's)",
        (200, Themes, "The themes"),
        PERIOD,
        IN_REGION,
        IN_SITE,
    ),
    "/api/v1/themes/{kind}/{theme_id}/submissions": _get(
        "The texts behind one theme (names only where shared named)",
        (200, ThemeTexts, "The texts"),
        openapi.path_parameter("kind", "working or not_working"),
        openapi.path_parameter("theme_id", "a theme of deploy/themes.yaml, or other"),
        PERIOD,
        IN_REGION,
        IN_SITE,
        CSV_FORMAT,
        csv=True,
    ),
    "/api/v1/sites/{site_id}/comments": _get(
        "A site's newest free-text answers: named ones dated, anonymous ones apart",
        (200, Comments, "The comments"),
        SITE,
        problems=(403, 404),
    ),
    "/api/v1/sites/{site_id}/team-feedback": _get(
        "A site's key questions for a month for staff supervision (withheld when too few answered)",
        (200, TeamFeedback, "The team feedback"),
        SITE,
        MONTH,
        CSV_FORMAT,
        csv=True,
    ),
    "/api/v1/regions/{region_id}/reports": _get(
        "A region's right-of-reply reports, newest period first", (200, Reports, "The reports"), REGION
    ),
    "/api/v1/regions/{region_id}/reports/{period}": _get(
        "One region report: the frozen figures per site, each with its site manager's reply",
        (200, Report, "The report"),
        REGION,
        openapi.path_parameter("period", "the report's month or quarter"),
    ),
}


bp = openapi.blueprint(
    "Quality checks: roll-ups",
    "Figures per site, region and organisation for managers in scope; every period in the same words.",
    PATHS,
)
