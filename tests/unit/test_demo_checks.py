"""The demo-checks generator: v1 bodies by default (the e2e recounts rely on it), v2 with the confidence question."""

from __future__ import annotations

import datetime as dt

from qc_tools.demo_checks import CONFIDENCE, QUESTIONS, generate
from services.checks.web.schemas import SubmissionSchema

CREDS = {"checkers": [{"token": f"t{i}", "site_id": f"S000{i}"} for i in range(1, 4)]}
TODAY = dt.date(2026, 11, 25)


def test_by_default_the_checks_answer_v1():
    for _token, body in generate(CREDS, 20, seed=3, today=TODAY):
        assert body["question_set"] == {"id": "everyday-life", "version": 1}
        assert [a["question_id"] for a in body["answers"]] == list(QUESTIONS)
        SubmissionSchema().load(body)


def test_with_confidence_the_checks_answer_v2_and_say_how_sure_they_are():
    bodies = [body for _token, body in generate(CREDS, 200, seed=3, today=TODAY, confidence=True)]
    for body in bodies:
        assert body["question_set"] == {"id": "everyday-life", "version": 2}
        assert [a["question_id"] for a in body["answers"]] == [*QUESTIONS, CONFIDENCE]
        assert 0 <= (TODAY - dt.date.fromisoformat(body["visited_on"])).days <= 60
        SubmissionSchema().load(body)
    assert {b["answers"][-1]["score"] for b in bodies} == {None, 1, 2, 3}
    assert generate(CREDS, 5, seed=3, today=TODAY, confidence=True) == generate(
        CREDS, 5, seed=3, today=TODAY, confidence=True
    ), "deterministic"
