import pytest

from qc.settings import ROOT
from services.notify import rules


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
    assert {r.kind for r in loaded} == {"urgent_concern", "safety_not_good"}
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


def test_alert_id_is_stable_for_the_same_submission():
    loaded = rules.load_rules(ROOT / "deploy" / "alert-rules.yaml")
    assert rules.evaluate(loaded, _validated())[0].alert_id == rules.evaluate(loaded, _validated())[0].alert_id


@pytest.mark.parametrize(
    "text,message",
    [
        ("version: 2\nrules: []", "version: 1"),
        ("version: 1\nrules:\n - {id: a, kind: nope, severity: high, notify: [site_manager]}", "'kind'"),
        ("version: 1\nrules:\n - {id: a, kind: urgent_concern, severity: loud, notify: [site_manager]}", "'severity'"),
        ("version: 1\nrules:\n - {id: a, kind: urgent_concern, severity: high, notify: [cat]}", "'notify'"),
        (
            "version: 1\nrules:\n - {id: a, kind: urgent_concern, severity: high, notify: [site_manager], x: 1}",
            "unknown",
        ),
        (
            "version: 1\nrules:\n - {id: a, kind: urgent_concern, severity: high, notify: [site_manager]}\n"
            " - {id: a, kind: urgent_concern, severity: high, notify: [site_manager]}",
            "unique",
        ),
        ("version: 1\nrules: [", "cannot read"),
    ],
)
def test_a_wrong_rules_file_is_refused_with_a_clear_message(tmp_path, text, message):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(rules.RulesError, match=message):
        rules.load_rules(path)
