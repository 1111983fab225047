import datetime as dt

import pytest

from qc import schedules


@pytest.mark.parametrize(
    ("day", "interval", "expected"),
    [
        ("2026-01-31", "month", "2026-02-28"),  # no 31 February: its last day
        ("2028-01-31", "month", "2028-02-29"),
        ("2026-11-15", "month", "2026-12-15"),
        ("2026-12-15", "month", "2027-01-15"),
        ("2026-11-30", "quarter", "2027-02-28"),
        ("2026-10-31", "two_months", "2026-12-31"),
        ("2026-12-28", "week", "2027-01-04"),
        ("2026-12-28", "fortnight", "2027-01-11"),
    ],
)
def test_the_next_check_is_one_interval_later(day, interval, expected):
    assert schedules.after(dt.date.fromisoformat(day), interval) == dt.date.fromisoformat(expected)


def test_a_sites_own_interval_beats_its_regions_which_beats_the_default():
    regions = {"R1": "quarter", "R2": "not-an-interval"}
    assert schedules.interval_of({"region_id": "R1", "check_interval": "week"}, regions) == "week"
    assert schedules.interval_of({"region_id": "R1", "check_interval": None}, regions) == "quarter"
    assert schedules.interval_of({"region_id": "R2"}, regions) == "month"
    assert schedules.interval_of({"region_id": None}, regions) == "month"
    assert schedules.words("fortnight") == "every two weeks" and schedules.words(None) == "every month"


def test_due_counts_from_the_last_check_or_for_alerts_not_before_first_known():
    site = {"_id": "S1", "last_visited_on": "2026-10-01", "first_seen_on": "2026-11-10"}
    due = schedules.due(site, {})
    assert (due.since, due.on, due.never_checked) == (dt.date(2026, 10, 1), dt.date(2026, 11, 1), False)
    due = schedules.due(site, {}, not_before_first_seen=True)
    assert (due.since, due.on, due.never_checked) == (dt.date(2026, 11, 10), dt.date(2026, 12, 10), False)
    assert schedules.due({"_id": "S2"}, {}) is None
    never = schedules.due({"_id": "S3", "first_seen_on": "2026-11-10"}, {})
    assert never.never_checked and never.on == dt.date(2026, 12, 10)


def test_checkers_are_reminded_in_the_three_days_before_it_is_due_and_on_the_day():
    due = schedules.due({"_id": "S1", "last_visited_on": "2026-11-10"}, {})  # due 10 December
    days = {d: due.remind_today(dt.date(2026, 12, d)) for d in range(5, 13)}
    assert [d for d, yes in days.items() if yes] == [7, 8, 9, 10]
    assert due.overdue_days(dt.date(2026, 12, 10)) == 0 and due.overdue_days(dt.date(2026, 12, 11)) == 1
