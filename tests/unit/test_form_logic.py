"""The form's pure logic: reading screens, building the intake body, the profile and the order of screens."""

from __future__ import annotations

import datetime as dt
import json

from qc.settings import ROOT
from services.checks import intake
from services.checks.profiles import Profile, next_step, previous_step, steps
from services.checks.schemas import SubmissionSchema

QUESTION_SET = json.loads((ROOT / "schemas" / "question-sets" / "everyday-life.v1.json").read_text())
QUESTIONS = QUESTION_SET["questions"]


def test_each_answer_choice_becomes_its_score():
    form = {"score-listened-to": "3", "score-feel-safe": "skip", "comment-feel-safe": "  at night  "}
    answers, errors = intake.read_answers(form, QUESTIONS[:2])
    assert errors == {}
    assert answers == {"listened-to": {"score": 3, "comment": ""}, "feel-safe": {"score": None, "comment": "at night"}}


def test_no_choice_is_an_error_in_plain_words_and_not_a_skip():
    answers, errors = intake.read_answers({"score-listened-to": "7"}, QUESTIONS[:1])
    assert "score" not in answers["listened-to"]
    assert errors["score-listened-to"].startswith("Choose an answer.")


def test_a_long_comment_is_an_error():
    _, errors = intake.read_answers({"score-listened-to": "2", "comment-listened-to": "x" * 1001}, QUESTIONS[:1])
    assert "1000 letters or fewer" in errors["comment-listened-to"]


def test_things_are_one_per_line():
    assert intake.read_lines(" the garden \n\n the cook\r\n") == (["the garden", "the cook"], {})
    assert "more than 20" in intake.read_lines("\n".join("x" * 21))[1]["items"]
    assert "500 letters" in intake.read_lines("y" * 501)[1]["items"]


def test_a_worry_is_needed_only_to_send_it_now():
    assert intake.read_concern("  ", required=False) == ("", {})
    assert "Write what you are worried about" in intake.read_concern(" ", required=True)[1]["concern"]
    assert "too long" in intake.read_concern("z" * 2001, required=False)[1]["concern"]


def test_a_draft_becomes_a_valid_intake_body_with_every_question():
    draft = {
        "_id": "0b9a4c1e-5b7e-4d52-9a55-3f1f6d3f6f7a",
        "site_id": "S0001",
        "answers": {"feel-safe": {"score": 1, "comment": " scared "}},
        "working": ["the garden"],
        "not_working": [],
        "urgent_concern": "  ",
    }
    body = intake.submission_from_draft(draft, QUESTION_SET, dt.date(2026, 11, 3))
    assert [a["question_id"] for a in body["answers"]] == [q["id"] for q in QUESTIONS]
    assert body["answers"][1] == {"question_id": "feel-safe", "score": 1, "comment": "scared"}
    assert all(a["score"] is None for a in body["answers"] if a["question_id"] != "feel-safe")
    assert body["urgent_concern"] is None and body["visited_on"] == "2026-11-03"
    SubmissionSchema().load(body)  # the API's own validation accepts it


def test_screens_follow_the_profile():
    one = steps(QUESTION_SET, Profile())
    assert one[0] == "q-listened-to" and one[-3:] == ["working", "not-working", "check"]
    assert steps(QUESTION_SET, Profile(per_screen="all")) == ["questions", "working", "not-working", "check"]
    assert next_step(one, "q-see-people") == "working" and next_step(one, "check") == "check"
    assert next_step(one, "questions") == "working"  # the layout changed part way through
    assert previous_step(one, "q-listened-to") is None and previous_step(one, "working") == "q-see-people"


def test_profile_form_names_each_bad_field():
    profile, errors = Profile.from_form({"pictures": "photos", "read_aloud": "off", "text_size": "huge"})
    assert profile.pictures == "photos" and profile.read_aloud is False
    assert set(errors) == {"text_size", "per_screen"}


def test_a_stored_profile_with_unknown_values_falls_back_to_defaults():
    assert Profile.from_doc({"pictures": "video", "text_size": "large"}) == Profile(text_size="large")
    assert Profile.from_doc(None) == Profile()
