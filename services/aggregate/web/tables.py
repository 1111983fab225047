"""The tables of the manager pages as rows and columns, so a page and its CSV download show the same thing."""

from __future__ import annotations

from services.aggregate.rules.rollups import ANSWERED_BY

# Coverage looks back this far from today, not only at the period: on the 1st of a month no site has a check
# "this month" yet, and a wall of red would hide the sites really not checked for a long time.
RECENT_DAYS = 30

SITES = [
    "site_id",
    "name",
    "checks",
    "score",
    "share_good",
    "score_change",
    "previous_period_score",
    "previous_period_checks",
    "last_check_on",
    "days_since_last_check",
    "has_active_checker",
]
REGIONS = ["region_id", "checks", "sites_checked", "score", "score_change", "share_good", *ANSWERED_BY]
COVERAGE = [
    "site_id",
    "name",
    f"checked_in_last_{RECENT_DAYS}_days",
    "checked_in_period",
    "has_active_checker",
    "last_check_on",
    "days_since_last_check",
]
THEMES = ["question", "theme", "label", "mentions", "checks"]
TREND = ["period", "checks", "score", "share_good", "sure", "a_bit", "not_sure", "share_sure"]
QUESTIONS = ["question_id", "good", "ok", "not_good", "skipped", "share_good"]
COMMENTS = ["visited_on", "question", "text", "by"]
THEME_TEXTS = ["visited_on", "site_id", "site_name", "question", "text", "by"]


def regions(regions_rows: list[dict]) -> list[dict]:
    """The organisation page's regions, with checks by who wrote the answers as columns."""
    return [{**r, **r["answered_by"]} for r in regions_rows]


def checked_recently(row: dict) -> bool:
    """A check in the last ``RECENT_DAYS`` days (to today)."""
    return row["days_since_last_check"] is not None and row["days_since_last_check"] <= RECENT_DAYS


def coverage(site_rows: list[dict]) -> list[dict]:
    """Sites with a gap: no check in the last ``RECENT_DAYS`` days, or no active checker."""
    return [
        {**r, "checked_in_period": bool(r["checks"]), f"checked_in_last_{RECENT_DAYS}_days": checked_recently(r)}
        for r in site_rows
        if not checked_recently(r) or not r["has_active_checker"]
    ]


def themes(grouped: dict) -> list[dict]:
    """Both theme tables (what is working, what is not) as one list of rows."""
    labels = {"working": "What is working", "not_working": "What is not working"}
    return [{**t, "question": labels[kind], "checks": t["submissions"]} for kind in labels for t in grouped[kind]]


def questions(rollup: dict) -> list[dict]:
    """Counts per question, by question id."""
    return [{"question_id": q, **c} for q, c in sorted(rollup["questions"].items())]


def trend(points: list[dict]) -> list[dict]:
    """A trend with the confidence answers as columns."""
    return [{**p, **p["confidence"]} for p in points]


REPORT_SITES = [
    "site_id",
    "name",
    "checks",
    "score",
    "score_change",
    "days_since_last_check",
    "checked_in_period",
    "has_active_checker",
    "share_sure",
    "fixes_confirmed",
    "fixes_disputed",
    "reply",
    "reply_by",
    "reply_written_at",
    "reply_changed_at",
]


def report_sites(report: dict, show_replies: bool = True, mine: str | None = None) -> list[dict]:
    """A region report's sites, each with its site manager's reply (empty when none).

    ``show_replies`` False (a draft read by a site manager): only the reply of ``mine``, their own
    site, as the page shows it; other sites' draft replies are theirs until the report is published.
    """
    rows = []
    for site in report["sites"]:
        reply = report.get("replies", {}).get(site["site_id"]) or {}
        if not show_replies and site["site_id"] != mine:
            reply = {}
        rows.append(
            {
                **site,
                "reply": reply.get("text"),
                "reply_by": reply.get("by"),
                "reply_written_at": reply["written_at"].isoformat() if reply else None,
                "reply_changed_at": reply["changed_at"].isoformat() if reply else None,
            }
        )
    return rows
