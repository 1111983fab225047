"""What needs a manager today: pure decisions over the alerts and sites in their scope (no I/O).

The home page (``today_page.py``) reads the alerts and sites and shows these
lists in this order, the most pressing first. Each line names what it is and
how long it has waited, in words; it never carries what a checker wrote
(a worry is "A quality checker raised an urgent concern", as in the inbox).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from qc import schedules
from services.notify.rules.alerts import SEVERITIES

_RANK = {s: i for i, s in enumerate(SEVERITIES)}
IN_HAND_TOO_LONG = dt.timedelta(days=7)  # acknowledged but not resolved: the regional manager's nudge
ESCALATES_WITHIN = dt.timedelta(hours=24)
SHOWN = 20  # lines per list; the rest are counted and linked


@dataclasses.dataclass(frozen=True)
class Today:
    """The home page's lists, each already in the order to act on."""

    not_looked_at: list[dict]
    escalating: list[dict]
    not_better: list[dict]
    in_hand_too_long: list[dict]
    overdue_sites: list[dict]
    sites_without_checker: list[dict]
    by_severity: dict[str, int]

    @property
    def nothing(self) -> bool:
        """True when nothing at all needs the manager."""
        return not any(
            (
                self.not_looked_at,
                self.escalating,
                self.not_better,
                self.in_hand_too_long,
                self.overdue_sites,
                self.sites_without_checker,
            )
        )


def age_words(since: dt.datetime | dt.date, now: dt.datetime | dt.date) -> str:
    """How long ago, as a person says it: "today", "yesterday", "3 days ago", "5 weeks ago"."""
    if isinstance(since, dt.datetime):
        since = since.date()
    if isinstance(now, dt.datetime):
        now = now.date()
    days = (now - since).days
    if days <= 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 14:
        return f"{days} days ago"
    if days < 61:
        return f"{days // 7} weeks ago"
    return f"{days // 30} months ago"


ROLE_WORDS = {
    "site_manager": "the site manager",
    "regional_manager": "the regional manager",
    "safeguarding_lead": "the safeguarding lead",
}


def escalation_words(alert: dict, now: dt.datetime, tz: dt.tzinfo) -> str:
    """When and to whom an alert is passed up, in the service's own time: "passed to the regional manager
    today at 13:04"."""
    who = " and ".join(ROLE_WORDS.get(r, r.replace("_", " ")) for r in alert.get("escalate_to") or ()) or "others"
    when, today = alert["escalate_at"].astimezone(tz), now.astimezone(tz).date()
    if when <= now:
        return f"being passed to {who} now"
    day = {0: "today", 1: "tomorrow"}.get((when.date() - today).days, f"on {when.day} {when:%B}")
    return f"passed to {who} {day} at {when:%H:%M}"


def needs_you(
    alerts: list[dict],
    sites: list[dict],
    sites_with_checker: set[str],
    now: dt.datetime,
    today: dt.date,
    region_intervals: dict[str, str] | None = None,
) -> Today:
    """The lists for one manager from the open and acknowledged alerts and the active sites in their scope
    (a site is overdue the day after its check was due: its own interval, else its region's; qc/schedules.py)."""
    open_alerts = [a for a in alerts if a["status"] == "open"]
    reopened = [a for a in open_alerts if a.get("reopened_at")]
    first_time = [a for a in open_alerts if not a.get("reopened_at")]
    escalating = [
        a for a in open_alerts if a.get("escalate_at") is not None and a["escalate_at"] <= now + ESCALATES_WITHIN
    ]
    in_hand = [
        a
        for a in alerts
        if a["status"] == "acknowledged" and a.get("acknowledged_at") and now - a["acknowledged_at"] > IN_HAND_TOO_LONG
    ]
    by_severity = {s: 0 for s in SEVERITIES}
    for a in open_alerts:
        by_severity[a["severity"]] += 1
    return Today(
        # Most serious first, then the one waiting longest.
        not_looked_at=sorted(first_time, key=lambda a: (_RANK[a["severity"]], a["raised_at"])),
        escalating=sorted(escalating, key=lambda a: a["escalate_at"]),
        not_better=sorted(reopened, key=lambda a: a["reopened_at"]),
        in_hand_too_long=sorted(in_hand, key=lambda a: a["acknowledged_at"]),
        overdue_sites=schedules.overdue(sites, region_intervals or {}, today),
        sites_without_checker=sorted(
            (s for s in sites if s["_id"] not in sites_with_checker), key=lambda s: s.get("name") or s["_id"]
        ),
        by_severity={s: n for s, n in by_severity.items() if n},
    )


AGE_BUCKETS = (("today", 0, 0), ("1 to 2 days", 1, 2), ("3 to 7 days", 3, 7), ("more than a week", 8, None))


def by_age_and_severity(alerts: list[dict], today: dt.date) -> dict:
    """Open and acknowledged alerts counted by how serious and how old: the home page's grid."""
    rows = []
    for severity in SEVERITIES:
        counts = []
        for _words, low, high in AGE_BUCKETS:
            counts.append(
                sum(
                    1
                    for a in alerts
                    if a["severity"] == severity
                    and low <= (today - a["raised_at"].date()).days
                    and (high is None or (today - a["raised_at"].date()).days <= high)
                )
            )
        rows.append({"severity": severity, "counts": counts})
    return {"ages": [words for words, _low, _high in AGE_BUCKETS], "rows": rows, "total": len(alerts)}
