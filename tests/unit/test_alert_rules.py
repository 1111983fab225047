import pytest

from qc.settings import ROOT
from services.notify.rules import alerts as rules


def _validated(**changes):
    body = {
        "submission_id": "0b6f3c1e-3d7a-4c59-9a43-2f0f5f3d8a11",
        "site_id": "S0001",
        "region_id": "R01",
        "visited_on": "2026-11-24",
        "urgent_concern": None,
        "answers": [
            {"question_id": "feel-safe", "score": 1, "safety": True},
            {"question_id": "respect", "score": 1, "safety": True},
            {"question_id": "listened-to", "score": 1, "safety": False},
        ],
    }
    body.update(changes)
    return body


def test_the_shipped_rules_file_loads():
    loaded = rules.load_rules(ROOT / "deploy" / "alert-rules.yaml")
    assert {r.kind for r in loaded} == set(rules.KINDS)
    assert next(r for r in loaded if r.kind == "urgent_concern").severity == "critical"


def test_not_good_on_safety_questions_raises_one_alert_keyed_by_site_and_month():
    loaded = rules.load_rules(ROOT / "deploy" / "alert-rules.yaml")
    [candidate] = rules.evaluate(loaded, _validated())
    assert candidate.key == "safety_not_good:S0001:2026-11"
    assert candidate.question_ids == ("feel-safe", "respect")


def test_each_urgent_concern_is_its_own_alert():
    loaded = rules.load_rules(ROOT / "deploy" / "alert-rules.yaml")
    a = rules.evaluate(loaded, _validated(urgent_concern="worried", answers=[]))
    b = rules.evaluate(loaded, _validated(urgent_concern="worried", answers=[], submission_id="other"))
    assert [c.rule.kind for c in a] == ["urgent_concern"]
    assert a[0].key != b[0].key and a[0].alert_id != b[0].alert_id
    assert rules.evaluate(loaded, _validated(urgent_concern="   ", answers=[])) == []


def test_a_worry_through_a_sites_own_link_says_so_and_names_nobody():
    loaded = rules.load_rules(ROOT / "deploy" / "alert-rules.yaml")
    voice = _validated(urgent_concern="worried", answers=[], kind="voice", checker_id="voice:S1")
    [worry] = rules.evaluate(loaded, voice)
    assert worry.summary == "Someone supported here raised an urgent concern."
    rejected = {**voice, "received_at": "2026-11-24T10:00:00Z"}  # its rejection carries its kind too
    assert rules.evaluate_rejected_worry(loaded, rejected)[0].summary == worry.summary
    [checkers] = rules.evaluate(loaded, _validated(urgent_concern="worried", answers=[]))
    assert checkers.summary == "A quality checker raised an urgent concern."


def test_alert_id_is_stable_for_the_same_submission():
    loaded = rules.load_rules(ROOT / "deploy" / "alert-rules.yaml")
    assert rules.evaluate(loaded, _validated())[0].alert_id == rules.evaluate(loaded, _validated())[0].alert_id


@pytest.mark.parametrize(
    "text,message",
    [
        ("version: 2\nrules: []", "version: 1"),
        ("version: 1\nrules:\n - {id: a, kind: nope, severity: high, notify: [site_manager]}", "'kind'"),
        ("version: 1\nrules:\n - {id: a, kind: urgent_concern, severity: loud, notify: [site_manager]}", "'severity'"),
        ("version: 1\nrules:\n - {id: a, kind: safety_not_good, severity: high, notify: [cat]}", "'notify'"),
        (
            "version: 1\nrules:\n - {id: a, kind: safety_not_good, severity: high, notify: [site_manager], x: 1}",
            "unknown",
        ),
        (
            "version: 1\nrules:\n - {id: a, kind: safety_not_good, severity: high, notify: [site_manager]}\n"
            " - {id: a, kind: safety_not_good, severity: high, notify: [site_manager]}",
            "unique",
        ),
        ("version: 1\nrules: [", "cannot read"),
        (
            "version: 1\nrules:\n - {id: a, kind: urgent_concern, severity: high, notify: [site_manager]}",
            "safeguarding",
        ),
        ("version: 1\nrules:\n - {id: a, kind: low_score, severity: warning, notify: [site_manager]}", "params"),
        (
            "version: 1\nrules:\n - {id: a, kind: low_score, severity: warning, notify: [site_manager],"
            " params: {below: x, min_checks: 1, period_kind: month}}",
            "params.below",
        ),
        (
            "version: 1\nrules:\n - {id: a, kind: overdue, severity: warning, notify: [site_manager],"
            " params: {days_late: 3}, escalate_after_minutes: 5}",
            "escalate_to",
        ),
    ],
)
def test_a_wrong_rules_file_is_refused_with_a_clear_message(tmp_path, text, message):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(rules.RulesError, match=message):
        rules.load_rules(path)


SHIPPED = rules.load_rules(ROOT / "deploy" / "alert-rules.yaml")


def _rollup(**changes):
    data = {
        "scope": "site",
        "site_id": "S1",
        "region_id": "R01",
        "period": "2026-11",
        "period_kind": "month",
        "checks": 3,
        "score": 1.5,
    }
    data.update(changes)
    return data


def test_low_score_needs_enough_checks_and_the_rules_period_kind():
    assert [c.rule.kind for c in rules.evaluate_rollup(SHIPPED, _rollup(), None)] == ["low_score"]
    assert rules.evaluate_rollup(SHIPPED, _rollup(checks=1), None) == []
    assert rules.evaluate_rollup(SHIPPED, _rollup(period="2026-W47", period_kind="week"), None) == []
    assert rules.evaluate_rollup(SHIPPED, _rollup(scope="region", site_id=None), None) == []
    assert rules.evaluate_rollup(SHIPPED, _rollup(score=None), None) == []


def test_score_drop_compares_with_the_previous_period():
    [drop] = rules.evaluate_rollup(SHIPPED, _rollup(score=2.2), previous_score=2.8)
    assert drop.rule.kind == "score_drop" and drop.key == "score_drop:S1:2026-11"
    assert "2.80 to 2.20" in drop.summary
    assert rules.evaluate_rollup(SHIPPED, _rollup(score=2.5), previous_score=2.8) == []


def test_repeated_rejections_alert_once_the_count_is_reached():
    rejected = {
        "submission_id": "x",
        "checker_id": "C1",
        "site_id": "S1",
        "region_id": "R01",
        "rejected_at": "2026-11-25T10:00:00Z",
    }
    assert rules.evaluate_rejections(SHIPPED, rejected, lambda days: 2) == []
    [c] = rules.evaluate_rejections(SHIPPED, rejected, lambda days: 3)
    assert c.checker_id == "C1" and c.key == "repeated_rejections:S1:C1:2026-11"


def test_overdue_counts_days_past_each_sites_due_day():
    import datetime as dt

    from qc import schedules

    [rule] = rules.rules_for(SHIPPED, "schedule")
    site = {"_id": "S1", "region_id": "R01", "last_visited_on": "2026-10-01"}  # monthly: due 1 November
    due = schedules.due(site, {})
    assert rules.evaluate_overdue(rule, site, due, dt.date(2026, 11, 14)) is None  # 13 days late
    candidate = rules.evaluate_overdue(rule, site, due, dt.date(2026, 11, 15))
    assert candidate.key == "overdue:S1:2026-10-01"
    assert (
        candidate.summary
        == "No quality check 14 days after it was due (it should be checked every month; the last was 45 days ago)."
    )
    weekly = schedules.due({**site, "check_interval": "week", "last_visited_on": "2026-11-01"}, {})
    assert rules.evaluate_overdue(rule, site, weekly, dt.date(2026, 11, 22)).summary.startswith(
        "No quality check 14 days after"
    )


def test_safeguarding_is_always_immediate_and_warnings_wait_for_the_digest():
    kinds = {r.kind: r for r in SHIPPED}
    assert kinds["urgent_concern"].safeguarding and kinds["urgent_concern"].immediate
    assert kinds["safety_not_good"].immediate and not kinds["low_score"].immediate
