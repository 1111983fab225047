import datetime as dt

import pytest

from qc import periods


def test_periods_of_a_date_follow_iso_weeks_across_the_year_end():
    assert periods.periods_of(dt.date(2026, 12, 31)) == {"week": "2026-W53", "month": "2026-12", "quarter": "2026-Q4"}
    assert periods.periods_of(dt.date(2027, 1, 1)) == {"week": "2026-W53", "month": "2027-01", "quarter": "2027-Q1"}


@pytest.mark.parametrize("name,kind", [("2026-11", "month"), ("2026-W05", "week"), ("2026-Q2", "quarter")])
def test_kind_of_names_each_kind(name, kind):
    assert periods.kind_of(name) == kind


@pytest.mark.parametrize("name", ["2026-13", "2026-11-01", "November", "2025-W53", "2026-Q5", ""])
def test_kind_of_rejects_what_is_not_a_period(name):
    with pytest.raises(periods.PeriodError):
        periods.kind_of(name)


@pytest.mark.parametrize(
    "period,before",
    [("2026-01", "2025-12"), ("2026-W01", "2025-W52"), ("2027-W01", "2026-W53"), ("2026-Q1", "2025-Q4")],
)
def test_previous_period_crosses_year_ends(period, before):
    assert periods.previous(period) == before
    assert periods.shift(before, 1) == period


def test_series_of_twelve_months_ends_with_the_given_one():
    assert periods.series("2026-03", 12) == [f"2025-{m:02d}" for m in range(4, 13)] + ["2026-01", "2026-02", "2026-03"]


@pytest.mark.parametrize(
    "period,first,last",
    [
        ("2026-02", "2026-02-01", "2026-02-28"),
        ("2026-W53", "2026-12-28", "2027-01-03"),
        ("2026-Q4", "2026-10-01", "2026-12-31"),
    ],
)
def test_first_and_last_day(period, first, last):
    assert (periods.first_day(period).isoformat(), periods.last_day(period).isoformat()) == (first, last)


def test_periods_are_said_in_words():
    assert [periods.words(p) for p in ("2026-11", "2026-Q4", "2026-W48", "2027-01")] == [
        "November 2026",
        "October to December 2026",
        "the week of 23 November 2026",
        "January 2027",
    ]
    picked = dict(periods.choices(dt.date(2026, 1, 2)))  # early in a year: last month and quarter are in the one before
    assert picked["This month"] == "2026-01" and picked["Last month"] == "2025-12"
    assert picked["This quarter"] == "2026-Q1" and picked["Last quarter"] == "2025-Q4"
    assert picked["This week"] == "2026-W01" and picked["Last week"] == "2025-W52"
