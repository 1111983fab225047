"""The period picker of the managers' pages: periods in words, chosen from links and a list, never typed."""

from __future__ import annotations

import datetime as dt

from qc import periods


def nav(period: str, today: dt.date) -> dict:
    """The period in words, the ones before and after, the usual choices (this and last month, quarter, week)
    and a list of the last 24 months and 8 quarters (nobody types "2026-Q4")."""
    this_month = periods.current("month", today)
    others = [*periods.series(this_month, 24)[::-1], *periods.series(periods.current("quarter", today), 8)[::-1]]
    return {
        "previous": periods.previous(period),
        "next": periods.shift(period, 1),
        "kind": periods.kind_of(period),
        "choices": periods.choices(today),
        "others": others if period in others else [period, *others],  # the one shown is always in the list
        "months": [p for p in others if periods.kind_of(p) == "month"],
    }
