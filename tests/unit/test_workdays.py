"""Working days for the right-of-reply deadline: weekends and English bank holidays skipped."""

from __future__ import annotations

import datetime as dt

import pytest

from qc.settings import ROOT
from services.aggregate.rules import workdays

HOLIDAYS = workdays.load_bank_holidays(ROOT / "deploy" / "bank-holidays.yaml")
D = dt.date


def test_the_file_lists_eight_days_a_year_for_2026_and_2027():
    assert {y: sum(1 for d in HOLIDAYS if d.year == y) for y in (2026, 2027)} == {2026: 8, 2027: 8}
    assert D(2026, 12, 25) in HOLIDAYS and D(2027, 3, 26) in HOLIDAYS  # Christmas, Good Friday 2027


@pytest.mark.parametrize(
    "start,count,expected",
    [
        (D(2026, 11, 23), 5, D(2026, 11, 30)),  # Monday + 5: next Monday
        (D(2026, 11, 25), 5, D(2026, 12, 2)),  # Wednesday: over one weekend
        (D(2026, 11, 27), 1, D(2026, 11, 30)),  # Friday + 1: Monday, not Saturday
        (D(2026, 11, 28), 1, D(2026, 11, 30)),  # shared on a Saturday: the first working day is Monday
        (D(2026, 11, 25), 0, D(2026, 11, 25)),  # no days to reply: the same day
        (D(2026, 8, 28), 1, D(2026, 9, 1)),  # Friday before the summer bank holiday Monday
        (D(2026, 4, 2), 2, D(2026, 4, 8)),  # Easter: Good Friday and Easter Monday skipped
        # Year end: Christmas Day (Fri), Boxing Day substitute (Mon 28th), New Year's Day (Fri).
        (D(2026, 12, 23), 5, D(2027, 1, 4)),
        (D(2027, 12, 24), 1, D(2027, 12, 29)),  # Friday; 27th and 28th are both substitute days
    ],
)
def test_add_working_days(start, count, expected):
    assert workdays.add_working_days(start, count, HOLIDAYS) == expected


def test_without_the_holiday_list_only_weekends_are_skipped():
    assert workdays.add_working_days(D(2026, 12, 23), 5, frozenset()) == D(2026, 12, 30)


def test_negative_counts_are_refused():
    with pytest.raises(ValueError):
        workdays.add_working_days(D(2026, 11, 25), -1, HOLIDAYS)


def test_is_working_day():
    assert workdays.is_working_day(D(2026, 11, 25), HOLIDAYS)
    assert not workdays.is_working_day(D(2026, 11, 28), HOLIDAYS)  # Saturday
    assert not workdays.is_working_day(D(2026, 5, 25), HOLIDAYS)  # spring bank holiday


def test_a_date_under_the_wrong_year_is_refused(tmp_path):
    path = tmp_path / "h.yaml"
    path.write_text("2026:\n  - 2027-01-01\n")
    with pytest.raises(ValueError, match="listed under 2026"):
        workdays.load_bank_holidays(path)
