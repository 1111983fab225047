import datetime as dt

from services.notify.rules.today import age_words, needs_you

NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


def _alert(i, severity="high", status="open", days=0, **extra):
    return {"_id": f"a{i}", "severity": severity, "status": status, "raised_at": NOW - dt.timedelta(days=days), **extra}


def test_age_is_said_as_a_person_says_it():
    said = [age_words(TODAY - dt.timedelta(days=d), TODAY) for d in (0, 1, 3, 13, 14, 60, 61, 400)]
    assert said == [
        "today",
        "yesterday",
        "3 days ago",
        "13 days ago",
        "2 weeks ago",
        "8 weeks ago",
        "2 months ago",
        "13 months ago",
    ]
    assert age_words(NOW + dt.timedelta(hours=2), NOW) == "today"  # a clock a little ahead is still today


def test_the_most_serious_and_longest_waiting_come_first_and_each_state_has_its_list():
    alerts = [
        _alert(1, "warning", days=9),
        _alert(2, "critical", days=1, escalate_at=NOW + dt.timedelta(hours=23)),
        _alert(3, "critical", days=2, escalate_at=NOW + dt.timedelta(hours=25)),  # not within a day
        _alert(4, "high", status="acknowledged", acknowledged_at=NOW - dt.timedelta(days=8)),
        _alert(5, "high", status="acknowledged", acknowledged_at=NOW - dt.timedelta(days=6)),  # not yet a week
        _alert(6, "info", reopened_at=NOW - dt.timedelta(days=1)),
    ]
    today = needs_you(alerts, [], set(), NOW, TODAY)
    assert [a["_id"] for a in today.not_looked_at] == ["a3", "a2", "a1"]
    assert [a["_id"] for a in today.escalating] == ["a2"]
    assert [a["_id"] for a in today.in_hand_too_long] == ["a4"]
    assert [a["_id"] for a in today.not_better] == ["a6"]
    assert today.by_severity == {"critical": 2, "warning": 1, "info": 1} and not today.nothing


def test_sites_are_overdue_the_day_after_their_own_interval_or_their_regions():
    sites = [  # today is 3 December 2026
        {"_id": "S1", "name": "Oak", "region_id": "R1", "last_visited_on": "2026-11-02"},  # due 2 December
        {"_id": "S2", "name": "Elm", "region_id": "R1", "last_visited_on": "2026-11-13"},  # due 13 December
        {"_id": "S3", "name": "Ash", "region_id": "R1", "first_seen_on": "2026-09-01"},  # never checked
        {"_id": "S4", "name": "Yew", "region_id": "R1"},  # nothing known
        # Every two weeks in its own right (due 27 November); its region's "quarter" is for the others.
        {"_id": "S5", "name": "Fir", "region_id": "R2", "check_interval": "fortnight", "last_visited_on": "2026-11-13"},
        {"_id": "S6", "name": "Bay", "region_id": "R2", "last_visited_on": "2026-10-04"},  # due 4 January
    ]
    today = needs_you([], sites, {"S1", "S3"}, NOW, TODAY, {"R2": "quarter"})
    late = [(s["_id"], s["late"], s["due"].interval, s["due"].never_checked) for s in today.overdue_sites]
    assert late == [("S3", 63, "month", True), ("S5", 6, "fortnight", False), ("S1", 1, "month", False)]
    assert [s["_id"] for s in today.sites_without_checker] == ["S6", "S2", "S5", "S4"]  # by name: Bay, Elm, Fir, Yew


def test_nothing_at_all_is_nothing():
    assert needs_you([], [], set(), NOW, TODAY).nothing


def test_an_escalation_says_to_whom_and_when_in_the_services_own_time():
    from zoneinfo import ZoneInfo

    from services.notify.rules.today import escalation_words

    london = ZoneInfo("Europe/London")
    summer = dt.datetime(2026, 7, 1, 9, 0, tzinfo=dt.UTC)
    alert = {"escalate_to": ["regional_manager", "safeguarding_lead"], "escalate_at": summer + dt.timedelta(hours=4)}
    said = escalation_words(alert, summer, london)
    assert said == "passed to the regional manager and the safeguarding lead today at 14:00"  # BST: UTC+1
    assert escalation_words({**alert, "escalate_at": summer + dt.timedelta(hours=16)}, summer, london).endswith(
        "tomorrow at 02:00"
    )
    assert escalation_words({**alert, "escalate_at": summer - dt.timedelta(minutes=1)}, summer, london).endswith("now")


def test_alerts_are_counted_by_how_serious_and_how_old():
    from services.notify.rules.today import by_age_and_severity

    alerts = [
        _alert(1, "critical", days=0),
        _alert(2, "critical", days=9),
        _alert(3, "high", days=2),
        _alert(4, "high", days=3),
        _alert(5, "high", days=7, status="acknowledged"),
    ]
    grid = by_age_and_severity(alerts, TODAY)
    rows = {r["severity"]: r["counts"] for r in grid["rows"]}
    assert grid["ages"] == ["today", "1 to 2 days", "3 to 7 days", "more than a week"]
    assert rows["critical"] == [1, 0, 0, 1] and rows["high"] == [0, 1, 2, 0] and rows["info"] == [0, 0, 0, 0]
    assert grid["total"] == 5
