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
