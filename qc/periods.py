"""Reporting periods: ISO weeks, months and quarters, named as in the API."""

from __future__ import annotations

import datetime as dt
import re

KINDS = ("week", "month", "quarter")
_PATTERNS = {
    "month": re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"),
    "week": re.compile(r"^(\d{4})-W(0[1-9]|[1-4]\d|5[0-3])$"),
    "quarter": re.compile(r"^(\d{4})-Q([1-4])$"),
}


class PeriodError(ValueError):
    """A period name that is not YYYY-MM, YYYY-Www or YYYY-Qn."""


def periods_of(day: dt.date) -> dict[str, str]:
    """The week, month and quarter a visit date falls in."""
    iso_year, iso_week, _ = day.isocalendar()
    return {
        "week": f"{iso_year}-W{iso_week:02d}",
        "month": f"{day.year}-{day.month:02d}",
        "quarter": f"{day.year}-Q{(day.month - 1) // 3 + 1}",
    }


def kind_of(period: str) -> str:
    """Which kind of period a name is; PeriodError if none."""
    for kind, pattern in _PATTERNS.items():
        match = pattern.match(period)
        if match:
            if kind == "week":
                _check_iso_week(int(match.group(1)), int(match.group(2)), period)
            return kind
    raise PeriodError(f"{period!r} is not a period; use YYYY-MM (month), YYYY-Www (ISO week) or YYYY-Qn (quarter)")


def _check_iso_week(year: int, week: int, period: str) -> None:
    try:
        dt.date.fromisocalendar(year, week, 1)
    except ValueError as e:
        raise PeriodError(f"{period!r}: {year} has no ISO week {week}") from e
