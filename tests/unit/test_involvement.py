"""The involvement report's counting (pure): who was a checker on the period's last day, who came and went."""

from __future__ import annotations

import datetime as dt

from services.checks.web import involvement

Q3 = involvement.Window(dt.date(2026, 7, 1), dt.date(2026, 9, 30))


def _checker(active=True, **record) -> dict:
    return {"active": active, "record": record}


def test_a_past_quarter_counts_who_was_there_then_not_who_is_there_now():
    checkers = [
        _checker(consent={"on": "2026-01-05"}),  # there all along
        _checker(invited={"on": "2026-08-02"}),  # came in Q3, not agreed yet
        _checker(active=False, consent={"on": "2026-02-01"}, stopped={"on": "2026-08-20"}),  # left in Q3
        _checker(active=False, consent={"on": "2026-02-01"}, stopped={"on": "2026-11-01"}),  # left after Q3
        _checker(consent={"on": "2026-10-10"}),  # came after Q3
        _checker(active=False),  # stopped on a day nobody wrote down
    ]
    assert involvement.people(checkers, Q3) == {"active": 3, "new": 1, "stopped": 1, "agreed": 2}


def test_time_and_what_was_said_are_counted_without_words():
    entries = [
        {"checker_id": "a", "date": "2026-07-02", "kind": "training", "hours": 2},
        {"checker_id": "a", "date": "2026-08-02", "kind": "check_visit", "hours": 1.5},
        {"checker_id": "b", "date": "2026-10-02", "kind": "training", "hours": 9},  # after the quarter
    ]
    assert involvement.time_given(entries, Q3) == {"hours": 3.5, "training_sessions": 1, "people_trained": 1}
    records = [
        {
            "status": "validated",
            "not_working_themes": ["food"],
            "responses": [
                {"action_id": "x", "status": "done", "feedback": {"answer": "better"}},
                {"alert_id": "y", "status": "resolved", "feedback": {"answer": "no"}},
            ],
        },
        {
            "status": "validated",
            "not_working_themes": ["food", "garden"],
            "responses": [
                {"action_id": "x", "status": "done"},
            ],
        },
        {"status": "rejected", "not_working_themes": ["garden"]},  # not counted
    ]
    done = involvement.said_and_done(records, {"food": "Food and meals"})
    assert done["not_working"] == [{"label": "Food and meals", "checks": 2}, {"label": "garden", "checks": 1}]
    assert (done["actions"], done["actions_done"], done["alerts_answered"]) == (1, 1, 1)
    assert done["better"] == {"better": 1, "a_bit": 0, "no": 1}
