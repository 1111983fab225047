import datetime as dt

import pytest
from marshmallow import ValidationError

from services.checks.rules.validation import content_hash, decide
from services.checks.web.schemas import SubmissionSchema

QS = {
    "id": "everyday-life",
    "version": 1,
    "questions": [
        {"id": "feel-safe", "text": "Do you feel safe?", "safety": True},
        {"id": "listened-to", "text": "Do staff listen?", "safety": False},
    ],
}
TODAY = dt.date(2026, 11, 25)


def _received(**changes):
    body = {
        "submission_id": "0b6f3c1e-3d7a-4c59-9a43-2f0f5f3d8a11",
        "checker_id": "C00001",
        "site_id": "S0001",
        "question_set": {"id": "everyday-life", "version": 1},
        "visited_on": "2026-11-24",
        "answers": [
            {"question_id": "feel-safe", "score": 1, "comment": ""},
            {"question_id": "listened-to", "score": 3, "comment": ""},
        ],
        "working": [],
        "not_working": [],
        "urgent_concern": None,
        "received_at": "2026-11-25T10:00:00.000Z",
    }
    body.update(changes)
    body["content_hash"] = content_hash(body)
    return body


SITE = {"_id": "S0001", "region_id": "R01", "active": True}
CHECKER = {"_id": "C00001", "role": "checker", "site_id": "S0001", "active": True}


def _decide(received, **kw):
    args = dict(site=SITE, checker=CHECKER, question_set=QS, duplicate_of=None, today=TODAY, window_days=90)
    args.update(kw)
    return decide(received, **args)


def test_a_good_submission_is_validated_with_region_and_safety_flags():
    decision = _decide(_received())
    assert decision.status == "validated"
    assert decision.validated["region_id"] == "R01"
    assert [a["safety"] for a in decision.validated["answers"]] == [True, False]


def test_every_failed_rule_is_reported_at_once():
    decision = _decide(
        _received(visited_on="2026-11-30", answers=[{"question_id": "nope", "score": 2, "comment": ""}]),
        site={**SITE, "active": False},
        checker={**CHECKER, "site_id": "S0002"},
        duplicate_of="x",
    )
    assert decision.status == "rejected"
    assert [r["code"] for r in decision.reasons] == [
        "site_inactive",
        "checker_not_at_site",
        "question_unknown",
        "visit_in_future",
        "duplicate",
    ]
    assert all(r["message"] for r in decision.reasons)


def test_unknown_site_checker_and_question_set_are_rejected():
    decision = _decide(_received(), site=None, checker=None, question_set=None)
    assert [r["code"] for r in decision.reasons] == ["site_unknown", "checker_unknown", "question_set_unknown"]
    assert decision.region_id is None


def test_visit_window_boundaries():
    assert _decide(_received(visited_on="2026-08-27")).status == "validated"  # 90 days ago
    old = _decide(_received(visited_on="2026-08-26"))
    assert [r["code"] for r in old.reasons] == ["visit_too_old"]
    assert _decide(_received(visited_on="2026-11-25")).status == "validated"  # today


def test_content_hash_ignores_ids_and_times_but_not_answers():
    a = _received()
    b = _received(submission_id="another", received_at="2027-01-01T00:00:00.000Z")
    c = _received(answers=[{"question_id": "feel-safe", "score": 2, "comment": ""}])
    assert a["content_hash"] == b["content_hash"] != c["content_hash"]


def test_a_worry_alone_hashes_apart_from_a_check_and_is_validated_as_it_is():
    worry = _received(kind="worry", answers=[], urgent_concern="The fire door is locked")
    check = _received(answers=[], urgent_concern="The fire door is locked")
    assert worry["content_hash"] != check["content_hash"]
    decision = _decide(worry)
    assert decision.status == "validated" and decision.validated["kind"] == "worry"
    assert decision.validated["answers"] == []


def test_the_intake_schema_keeps_a_worry_alone_to_the_worry():
    body = {k: v for k, v in _received().items() if k not in ("checker_id", "received_at", "content_hash")}
    body["submission_id"] = "0b6f3c1e-3d7a-4c59-9a43-2f0f5f3d8a11"
    assert SubmissionSchema().load(body)["kind"] == "check"  # absent: a check, as every body before it
    worry = {**body, "kind": "worry", "answers": [], "urgent_concern": "The fire door is locked"}
    assert SubmissionSchema().load(worry)["kind"] == "worry"
    for changes, field, words in (
        ({"answers": body["answers"]}, "answers", "send them with the check"),
        ({"working": ["the garden"]}, "working", "send them with the check"),
        ({"urgent_concern": " "}, "urgent_concern", "write what you are worried about"),
    ):
        with pytest.raises(ValidationError) as refused:
            SubmissionSchema().load({**worry, **changes})
        assert words in " ".join(refused.value.messages[field])
    with pytest.raises(ValidationError) as refused:
        SubmissionSchema().load({**body, "answers": []})
    assert refused.value.messages["answers"] == ["Give between 1 and 100 answers."]
