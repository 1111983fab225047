"""Working days: weekdays that are not English bank holidays (deploy/bank-holidays.yaml)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

SATURDAY = 5


def load_bank_holidays(path: Path) -> frozenset[dt.date]:
    """The dates listed in the bank-holiday file ({year: [dates]}); ValueError if it is not that shape."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected years, each with a list of dates")
    days = set()
    for year, dates in data.items():
        for day in dates or []:
            # YAML reads an unquoted 2026-12-25 as a date already; a quoted one is a string.
            day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
            if day.year != int(year):
                raise ValueError(f"{path}: {day} is listed under {year}")
            days.add(day)
    return frozenset(days)


def is_working_day(day: dt.date, holidays: frozenset[dt.date]) -> bool:
    """Monday to Friday, and not a bank holiday."""
    return day.weekday() < SATURDAY and day not in holidays


def add_working_days(start: dt.date, count: int, holidays: frozenset[dt.date]) -> dt.date:
    """The ``count``-th working day after ``start`` (``start`` itself never counts); ``start`` when count is 0."""
    if count < 0:
        raise ValueError("count must be 0 or more")
    day = start
    while count:
        day += dt.timedelta(days=1)
        if is_working_day(day, holidays):
            count -= 1
    return day
