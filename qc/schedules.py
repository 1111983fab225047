"""How often each site should be checked, and when its next check is due.

Each site has an expected interval: its own (``check_interval`` on the site in the directory), else its
region's, else monthly. The next check is due one interval after the last one (or after notify first knew
a site never checked). A site is overdue the day after that; its checkers are reminded, gently, a few
days before. Pure: no I/O here (notify's home page and scheduler use it).
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt

# Interval -> (months, days) to add, and how people say it.
INTERVALS = {
    "week": ((0, 7), "every week"),
    "fortnight": ((0, 14), "every two weeks"),
    "month": ((1, 0), "every month"),
    "two_months": ((2, 0), "every two months"),
    "quarter": ((3, 0), "every three months"),
}
DEFAULT = "month"
REMIND_DAYS_BEFORE = 3


def words(interval: str | None) -> str:
    """ "every month", for an interval (the default when not set)."""
    return INTERVALS[interval if interval in INTERVALS else DEFAULT][1]


def interval_of(site: dict, region_intervals: dict[str, str]) -> str:
    """The site's own interval, else its region's, else monthly."""
    for interval in (site.get("check_interval"), region_intervals.get(site.get("region_id") or "")):
        if interval in INTERVALS:
            return interval
    return DEFAULT


def after(day: dt.date, interval: str) -> dt.date:
    """One interval after ``day``; a month after 31 January is the last day of February."""
    (months, days), _words = INTERVALS[interval]
    if months:
        month_index = day.month - 1 + months
        year, month = day.year + month_index // 12, month_index % 12 + 1
        day = day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))
    return day + dt.timedelta(days=days)


@dataclasses.dataclass(frozen=True)
class Due:
    """A site's next check: when it is due, counted from when, and how often it should be checked."""

    site_id: str
    interval: str
    since: dt.date  # the last check, or when the site was first known (never checked)
    never_checked: bool
    on: dt.date

    def overdue_days(self, today: dt.date) -> int:
        """Days past the due day (0 or less: not overdue)."""
        return (today - self.on).days

    def remind_today(self, today: dt.date, days_before: int = REMIND_DAYS_BEFORE) -> bool:
        """True in the few days before it is due (and on the day)."""
        return self.on - dt.timedelta(days=days_before) <= today <= self.on


def due(site: dict, region_intervals: dict[str, str], not_before_first_seen: bool = False) -> Due | None:
    """When a site's next check is due, counted from its last check (else from when notify first knew it);
    None for a site notify knows nothing about yet.

    ``not_before_first_seen``: count from when notify first knew the site if that is later, so an alert rule
    does not fire for every site at once when notify is new (the home page tells the truth instead).
    """
    since = site.get("last_visited_on") or site.get("first_seen_on")
    if not_before_first_seen:
        since = max(filter(None, (site.get("last_visited_on"), site.get("first_seen_on"))), default=None)
    if since is None:
        return None
    interval = interval_of(site, region_intervals)
    start = dt.date.fromisoformat(since)
    return Due(site["_id"], interval, start, not site.get("last_visited_on"), after(start, interval))


def overdue(sites: list[dict], region_intervals: dict[str, str], today: dt.date) -> list[dict]:
    """Sites past their due day, the longest overdue first; each with ``due`` (a Due) and ``late`` (days)."""
    out = []
    for site in sites:
        next_check = due(site, region_intervals)
        if next_check is not None and next_check.overdue_days(today) > 0:
            out.append({**site, "due": next_check, "late": next_check.overdue_days(today)})
    return sorted(out, key=lambda s: (-s["late"], s.get("name") or s["_id"]))
