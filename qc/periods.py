"""Reporting periods: ISO weeks, months and quarters, named as in the API."""

from __future__ import annotations

import datetime as dt
import re

KINDS = ("week", "month", "quarter")
_PATTERNS = {
    "month": re.compile(r"(\d{4})-(0[1-9]|1[0-2])", re.ASCII),
    "week": re.compile(r"(\d{4})-W(0[1-9]|[1-4]\d|5[0-3])", re.ASCII),
    "quarter": re.compile(r"(\d{4})-Q([1-4])", re.ASCII),
}
# Years a period may name: trends reach years back and the pages link the next
# period, and all of that must stay inside what datetime.date can hold.
YEARS = range(1900, 3000)


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
        match = pattern.fullmatch(period)
        if match:
            if int(match.group(1)) not in YEARS:
                raise PeriodError(f"{period!r}: give a year from {YEARS.start} to {YEARS.stop - 1}")
            if kind == "week":
                _check_iso_week(int(match.group(1)), int(match.group(2)), period)
            return kind
    raise PeriodError(f"{period!r} is not a period; use YYYY-MM (month), YYYY-Www (ISO week) or YYYY-Qn (quarter)")


def _check_iso_week(year: int, week: int, period: str) -> None:
    try:
        dt.date.fromisocalendar(year, week, 1)
    except ValueError as e:
        raise PeriodError(f"{period!r}: {year} has no ISO week {week}") from e


def previous(period: str) -> str:
    """The period just before ``period``, of the same kind."""
    return shift(period, -1)


def shift(period: str, steps: int) -> str:
    """The period ``steps`` periods after (negative: before) ``period``."""
    kind = kind_of(period)
    year, rest = period.split("-")
    year = int(year)
    if kind == "week":
        monday = dt.date.fromisocalendar(year, int(rest[1:]), 1) + dt.timedelta(weeks=steps)
        return periods_of(monday)["week"]
    if kind == "month":
        index = year * 12 + int(rest) - 1 + steps
        return f"{index // 12}-{index % 12 + 1:02d}"
    index = year * 4 + int(rest[1:]) - 1 + steps
    return f"{index // 4}-Q{index % 4 + 1}"


def months_of(quarter: str) -> list[str]:
    """The three months of a quarter, in order."""
    first = first_day(quarter)
    return [f"{first.year}-{first.month + i:02d}" for i in range(3)]


def quarter_of(month: str) -> str:
    """The quarter a month falls in."""
    return periods_of(first_day(month))["quarter"]


def series(last: str, count: int) -> list[str]:
    """``count`` consecutive periods ending with ``last``, oldest first."""
    return [shift(last, -i) for i in range(count - 1, -1, -1)]


def current(kind: str, today: dt.date) -> str:
    """The period of ``kind`` that ``today`` falls in."""
    return periods_of(today)[kind]


def first_day(period: str) -> dt.date:
    """The first day of a period."""
    kind = kind_of(period)
    year, rest = period.split("-")
    if kind == "week":
        return dt.date.fromisocalendar(int(year), int(rest[1:]), 1)
    if kind == "month":
        return dt.date(int(year), int(rest), 1)
    return dt.date(int(year), (int(rest[1:]) - 1) * 3 + 1, 1)


def last_day(period: str) -> dt.date:
    """The last day of a period."""
    return first_day(shift(period, 1)) - dt.timedelta(days=1)


def words(period: str) -> str:
    """A period as people say it: "November 2026", "October to December 2026", "the week of 23 November 2026"."""
    kind = kind_of(period)
    first, last = first_day(period), last_day(period)
    if kind == "month":
        return f"{first:%B %Y}"
    if kind == "quarter":
        return f"{first:%B} to {last:%B %Y}"
    return f"the week of {first.day} {first:%B %Y}"


def choices(today: dt.date) -> list[tuple[str, str]]:
    """(words, period) for the periods a manager picks most: this and last month, quarter and week."""
    month, quarter, week = (current(k, today) for k in ("month", "quarter", "week"))
    return [
        ("This month", month),
        ("Last month", previous(month)),
        ("This quarter", quarter),
        ("Last quarter", previous(quarter)),
        ("This week", week),
        ("Last week", previous(week)),
    ]
