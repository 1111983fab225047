"""Pure logic behind team feedback, confidence and the WTFC pack: the scrub, the cell rule, the config, the charts."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from qc import key_questions
from qc.settings import ROOT
from services.aggregate.rules import rollups as rollup_rules
from services.aggregate.rules import scrub
from services.aggregate.web import charts, team_feedback

FIXTURE_SETS = Path(__file__).resolve().parents[1] / "fixtures" / "question-sets"


def _sets() -> list[dict]:
    paths = sorted((ROOT / "schemas" / "question-sets").glob("*.json")) + sorted(FIXTURE_SETS.glob("*.json"))
    return [json.loads(p.read_text()) for p in paths]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Call me on 07700 900123 please", "Call me on [phone number removed] please"),
        ("ring +44 (0)161 496 0000", "ring [phone number removed]"),
        ("write to bob.smith+care@example.co.uk today", "write to [e-mail removed] today"),
        ("I live at SW1A 1AA now", "I live at [postcode removed] now"),
        ("We went out on 2026-11-03", "We went out on 2026-11-03"),
        ("Rooms 12 and 14, 3 times a week", "Rooms 12 and 14, 3 times a week"),
        ("  too   many\nspaces ", "too many spaces"),
    ],
)
def test_the_scrub_takes_out_contact_details_and_nothing_else(text, expected):
    assert scrub.clean(text) == expected


def test_the_scrub_shortens_long_texts():
    out = scrub.clean("word " * 200)
    assert len(out) <= scrub.MAX_CHARS and out.endswith("…")


def test_a_cell_is_withheld_below_the_minimum_number_of_people():
    counts = {"good": 2, "ok": 1, "not_good": 0, "skipped": 4}
    withheld = team_feedback.cell("2026-11", counts, people=2, min_answers=3)
    assert withheld["shown"] is False and withheld["note"] == "Not enough answers to show (fewer than 3 people)"
    assert [withheld[k] for k in ("good", "ok", "not_good", "answers", "share_good")] == [None] * 5
    shown = team_feedback.cell("2026-11", counts, people=3, min_answers=3)
    assert (shown["good"], shown["ok"], shown["not_good"], shown["answers"], shown["share_good"]) == (2, 1, 0, 3, 0.667)
    assert team_feedback.cell("2026-11", None, people=0, min_answers=1)["shown"] is False


def test_the_team_feedback_file_names_questions_of_the_question_set():
    questions = key_questions.load_questions()
    ids = {q["id"] for s in _sets() for q in s["questions"]}
    assert [q.id for q in questions] == ["listened-to", "respect"] and {q.id for q in questions} <= ids
    assert all(q.team_wording.endswith("?") and q.question.endswith("?") for q in questions)


@pytest.mark.parametrize(
    "body,message",
    [
        ("version: 2\nquestions: []", "expected 'version: 1'"),
        ("version: 1\nquestions: []", "at least one question"),
        ("version: 1\nquestions:\n  - {id: a, question: 'Q?'}", "give exactly 'id', 'question' and 'team_wording'"),
        ("version: 1\nquestions:\n  - {id: a, question: 'Q?', team_wording: 'W?', extra: 1}", "give exactly"),
        (
            "version: 1\nquestions:\n  - {id: a, question: 'Q?', team_wording: 'W?'}\n"
            "  - {id: a, question: 'Q?', team_wording: 'W?'}",
            "listed twice",
        ),
        ("version: 1\nquestions: [", "cannot read"),
    ],
)
def test_a_wrong_team_feedback_file_is_refused_with_a_reason(tmp_path, body, message):
    path = tmp_path / "team-feedback.yaml"
    path.write_text(body)
    with pytest.raises(key_questions.TeamFeedbackError, match=message):
        key_questions.load_questions(path)


def test_the_confidence_question_is_known_by_every_question_set_that_has_it():
    # Aggregate recognises it by id (rollup_rules.CONFIDENCE_QUESTIONS): the sets must agree, v2 from the test fixture.
    kinds = {(q["id"], q.get("kind")) for s in _sets() for q in s["questions"]}
    assert {qid for qid, kind in kinds if kind == "confidence"} == set(rollup_rules.CONFIDENCE_QUESTIONS)
    assert not {qid for qid, kind in kinds if qid in rollup_rules.CONFIDENCE_QUESTIONS and kind != "confidence"}


_IDS = itertools.count()


def _data(answers, version=2):
    return {
        "submission_id": f"s-{next(_IDS)}",  # one fact per check: a roll-up counts each id once
        "checker_id": "c",
        "site_id": "S1",
        "region_id": "R01",
        "question_set": {"id": "everyday-life", "version": version},
        "visited_on": "2026-11-02",
        "answers": [{"question_id": q, "score": s, "comment": "", "safety": False} for q, s in answers],
        "working": [],
        "not_working": [],
        "received_at": "2026-11-02T10:00:00Z",
    }


def test_the_confidence_answer_stays_out_of_the_score_and_the_questions():
    quality = [("listened-to", 3), ("respect", 1)]
    v1 = rollup_rules.fact_from_validated(_data(quality, version=1))
    v2 = rollup_rules.fact_from_validated(_data([*quality, ("things-will-get-better", 1)]))
    skipped = rollup_rules.fact_from_validated(_data([*quality, ("things-will-get-better", None)]))
    assert "confidence" not in v1 and v2["confidence"] == 1 and skipped["confidence"] is None
    one, two = (rollup_rules.site_rollup("S1", "R01", "2026-11", [f]) for f in (v1, v2))
    same = ("score", "share_good", "questions", "score_sum", "answered", "checks")
    assert {k: one[k] for k in same} == {k: two[k] for k in same} and one["score"] == 2.0
    both = rollup_rules.site_rollup("S1", "R01", "2026-11", [v1, v2, skipped])
    assert both["confidence"] == {"sure": 0, "a_bit": 0, "not_sure": 1, "skipped": 1}
    region = rollup_rules.region_rollup("R01", "2026-11", [both, {**one, "confidence": None}])
    assert rollup_rules.with_share_sure(region["confidence"])["share_sure"] == 0.0


def test_the_share_chart_leaves_gaps_where_a_month_is_withheld():
    cells = [{"period": f"2026-{m:02d}", "share_good": s} for m, s in ((9, 1.0), (10, None), (11, 0.5), (12, 0.0))]
    chart = charts.share_line(cells)
    assert len(chart["segments"]) == 2 and [m["period"] for m in chart["markers"]] == ["2026-09", "2026-11", "2026-12"]
    assert chart["markers"][0]["y"] == charts.PAD and chart["markers"][-1]["y"] == charts.HEIGHT - charts.PAD
