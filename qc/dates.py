"""Dates as people write and say them: one parser for every form of every service, one way to say a day."""

from __future__ import annotations

import datetime as dt


def parse_day(text: str) -> dt.date | None:
    """A date from a date picker (2026-11-03) or as people write it in the UK (3/11/2026, 3-11-26)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    parts = [p for p in text.replace("-", "/").replace(".", "/").replace(" ", "/").split("/") if p]
    # isascii: isdigit() also says yes to "²" and other scripts' digits, which int() refuses.
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    day, month, year = (int(p) for p in parts)
    if year < 100:
        year += 2000
    try:
        return dt.date(year, month, day)
    except (ValueError, OverflowError):  # a day that does not exist, or a year too large for a date
        return None


def day_words(day: dt.date | str) -> str:
    """A day as people say it: "Thursday 10 December" (a date, or an ISO date as stored)."""
    day = dt.date.fromisoformat(day) if isinstance(day, str) else day
    return f"{day:%A} {day.day} {day:%B}"


def long_date(day: dt.date | dt.datetime | str) -> str:
    """3 November 2026: how every page and card writes a date (a date, a moment, or ISO text).

    A moment is written as the day of its own time zone (UTC as stored): a page that must show the day
    where the service is converts it first.
    """
    day = dt.date.fromisoformat(day[:10]) if isinstance(day, str) else day
    return f"{day.day} {day:%B %Y}"
