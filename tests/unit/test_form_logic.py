"""The form's pure logic: reading screens, building the intake body, the profile and the order of screens."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from qc import sharing
from qc.settings import ROOT
from services.checks.rules import form_reading
from services.checks.rules.validation import content_hash
from services.checks.stores.profiles import Profile, next_step, previous_step, steps
from services.checks.stores.question_sets import answer_options, answer_words
from services.checks.web import check_summary, intake
from services.checks.web.schemas import SubmissionSchema

QUESTION_SET = json.loads((ROOT / "schemas" / "question-sets" / "everyday-life.v1.json").read_text())
QUESTIONS = QUESTION_SET["questions"]


def test_each_answer_choice_becomes_its_score():
    form = {"score-listened-to": "3", "score-feel-safe": "skip", "comment-feel-safe": "  at night  "}
    answers, errors = form_reading.read_answers(form, QUESTIONS[:2])
    assert errors == {}
    assert answers == {
        "listened-to": {"score": 3, "comment": ""},
        "feel-safe": {"score": None, "comment": "at night"},
    }


def test_no_choice_is_an_error_in_plain_words_and_not_a_skip():
    answers, errors = form_reading.read_answers({"score-listened-to": "7"}, QUESTIONS[:1])
    assert "score" not in answers["listened-to"]
    assert errors["score-listened-to"].startswith("Choose an answer.")


def test_a_long_comment_is_an_error():
    _, errors = form_reading.read_answers({"score-listened-to": "2", "comment-listened-to": "x" * 1001}, QUESTIONS[:1])
    assert "1000 letters or fewer" in errors["comment-listened-to"]


def test_things_are_one_per_line():
    assert form_reading.read_lines(" the garden \n\n the cook\r\n") == (["the garden", "the cook"], {})
    assert "more than 20" in form_reading.read_lines("\n".join("x" * 21))[1]["items"]
    assert "500 letters" in form_reading.read_lines("y" * 501)[1]["items"]


def test_a_worry_is_needed_only_to_send_it_now():
    assert form_reading.read_concern("  ", required=False) == ("", {})
    assert "Write what you are worried about" in form_reading.read_concern(" ", required=True)[1]["concern"]
    assert "too long" in form_reading.read_concern("z" * 2001, required=False)[1]["concern"]


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
    assert body["answers"][1] == {"question_id": "feel-safe", "score": 1, "comment": "scared", "share": "anonymous"}
    assert body["answered_by"] == "alone" and body["texts_share"] == body["urgent_concern_share"] == "anonymous"
    assert all(a["score"] is None for a in body["answers"] if a["question_id"] != "feel-safe")
    assert body["urgent_concern"] is None and body["visited_on"] == "2026-11-03"
    SubmissionSchema().load(body)  # the API's own validation accepts it


def test_screens_follow_the_profile():
    one = steps(QUESTION_SET, Profile())
    assert one[:3] == ["who", "when", "q-listened-to"] and one[-3:] == ["working", "not-working", "check"]
    all_on_one = ["who", "when", "questions", "working", "not-working", "check"]
    assert steps(QUESTION_SET, Profile(per_screen="all")) == all_on_one
    assert next_step(one, "q-see-people") == "working" and next_step(one, "check") == "check"
    assert next_step(one, "questions") == "working"  # the layout changed part way through
    assert next_step(one, "when") == "q-listened-to"
    assert previous_step(one, "who") is None and previous_step(one, "q-listened-to") == "when"
    assert previous_step(one, "working") == "q-see-people"


def test_profile_form_names_each_bad_field():
    profile, errors = Profile.from_form({"pictures": "big", "read_aloud": "off", "text_size": "huge"})
    assert profile.pictures == "big" and profile.read_aloud is False
    assert set(errors) == {"text_size", "per_screen"}


def test_a_stored_profile_with_unknown_values_falls_back_to_defaults():
    assert Profile.from_doc({"pictures": "video", "text_size": "large"}) == Profile(text_size="large")
    assert Profile.from_doc(None) == Profile()
    # "Photos" was offered before there were any photographs, and showed big symbols: it reads as that now.
    assert Profile.from_doc({"pictures": "photos"}).pictures == "big"


# --- who answered, what may be shared, and the day of the visit ------------------------------------


def test_a_draft_from_before_the_one_name_choice_keeps_what_each_answer_shared():
    draft = {
        "_id": "0b9a4c1e-5b7e-4d52-9a55-3f1f6d3f6f7a",
        "site_id": "S0001",
        "answers": {"respect": {"score": 1, "comment": "", "share": "named"}},
        "working": [],
        "not_working": ["the night shift"],
        "urgent_concern": "",
        "answered_by": "supporter_wrote",
        "visited_on": "2026-11-01",
        "texts_share": "named",
        "urgent_concern_share": "anonymous",
    }
    body = intake.submission_from_draft(draft, QUESTION_SET, dt.date(2026, 11, 3))
    assert body["visited_on"] == "2026-11-01" and body["answered_by"] == "supporter_wrote"
    assert {a["question_id"]: a["share"] for a in body["answers"]}["respect"] == "named"
    assert {a["share"] for a in body["answers"] if a["question_id"] != "respect"} == {"anonymous"}
    assert body["texts_share"] == "named" and body["urgent_concern_share"] == "anonymous"
    SubmissionSchema().load(body)


def test_the_name_is_shared_only_when_the_checker_chose_it():
    assert form_reading.read_share({"share-x": "named"}, "share-x") == "named"
    for value in (None, "", "anonymous", "NAMED", "everyone"):
        assert form_reading.read_share({"share-x": value}, "share-x") == "anonymous"
    # A question screen asks one thing: a name choice posted with an answer is not taken from it.
    answers, _ = form_reading.read_answers({"score-respect": "1", "share-respect": "named"}, [QUESTIONS[4]])
    assert "share" not in answers["respect"]


@pytest.mark.parametrize("chosen", ["named", "anonymous"])
def test_the_one_name_choice_of_a_check_covers_every_answer_and_what_was_written(chosen):
    draft = {
        "_id": "0b9a4c1e-5b7e-4d52-9a55-3f1f6d3f6f7a",
        "site_id": "S0001",
        # An answer saved by an older screen with the other choice: the check's one choice wins.
        "answers": {"respect": {"score": 1, "comment": "rude", "share": "anonymous" if chosen == "named" else "named"}},
        "working": ["the garden"],
        "not_working": [],
        "urgent_concern": "a worry",
        "name_share": chosen,
        "urgent_concern_share": "anonymous",  # a worry asks on its own screen
    }
    body = intake.submission_from_draft(draft, QUESTION_SET, dt.date(2026, 11, 3))
    assert {a["share"] for a in body["answers"]} == {chosen}
    assert body["texts_share"] == chosen and body["urgent_concern_share"] == "anonymous"
    assert check_summary.name_share(draft) == chosen
    SubmissionSchema().load(body)


def test_a_name_is_shown_for_an_older_draft_only_where_one_of_its_answers_said_so():
    assert (
        check_summary.name_share({"answers": {"a": {"share": "anonymous"}}, "texts_share": "anonymous"}) == "anonymous"
    )
    assert check_summary.name_share({"answers": {}}) == "anonymous"
    assert check_summary.name_share({"answers": {"a": {"share": "named"}}}) == "named"
    assert check_summary.name_share({"answers": {}, "texts_share": "named"}) == "named"


def test_how_i_like_it_asks_once_whether_the_manager_may_see_the_name():
    assert Profile().share_name == "anonymous"
    form = {"pictures": "symbols", "text_size": "normal", "per_screen": "one", "read_aloud": "on"}
    assert Profile.from_form(form)[0].share_name == "anonymous"  # an older page without the question
    assert Profile.from_form({**form, "share_name": "named"})[0].share_name == "named"
    assert Profile.from_form({**form, "share_name": "everyone"})[1] == {
        "share_name": "Choose whether managers can see your name."
    }
    assert Profile.from_doc({"share_name": "named"}).share_name == "named"
    assert Profile.from_doc({"share_name": "everyone"}).share_name == "anonymous"


def test_who_is_answering_must_be_chosen():
    assert form_reading.read_answered_by({"answered_by": "with_supporter"}) == ("with_supporter", {})
    assert form_reading.read_answered_by({}) == (None, {"answered-by": "Choose who is answering the questions."})
    assert form_reading.read_answered_by({"answered_by": "robot"})[1]


def test_the_visit_is_today_yesterday_or_a_day_in_the_last_30_days():
    today = dt.date(2026, 11, 25)

    def visit(**form):
        return form_reading.read_visit(form, today, 30)

    assert visit(visited="today") == ("2026-11-25", {})
    assert visit(visited="yesterday") == ("2026-11-24", {})
    assert visit(visited="other", visited_on="2026-11-03") == ("2026-11-03", {})
    assert visit(visited="other", visited_on="3/11/2026") == ("2026-11-03", {})
    assert visit(visited="other", visited_on="26-10-26") == ("2026-10-26", {})
    assert "future" in visit(visited="other", visited_on="2026-11-26")[1]["visited-on"]
    assert "more than 30 days ago" in visit(visited="other", visited_on="2026-10-25")[1]["visited-on"]
    assert "Write a day that exists" in visit(visited="other", visited_on="31/2/2026")[1]["visited-on"]
    assert "Write the day, month and year" in visit(visited="other", visited_on=" ")[1]["visited-on"]
    # The three boxes of the form, and each box left empty named; the example is a day that would be accepted.
    boxes = {"visited_on_day": "3", "visited_on_month": "11", "visited_on_year": "2026"}
    assert visit(visited="other", **boxes) == ("2026-11-03", {})
    assert visit(visited="other", **{**boxes, "visited_on_day": " 3 "}) == ("2026-11-03", {})
    missing = visit(visited="other", **{**boxes, "visited_on_month": "", "visited_on_year": ""})[1]["visited-on"]
    assert missing == "Write the month and year you visited, for example 18 11 2026."
    impossible = visit(visited="other", **{**boxes, "visited_on_day": "31", "visited_on_month": "2"})[1]["visited-on"]
    assert impossible.startswith("Write a day that exists")
    assert visit(visited="last week")[1] == {"visited": "Choose the day you visited."}


def test_sharing_defaults_fill_in_old_bodies_without_changing_them():
    old = {"answers": [{"question_id": "a", "score": 1, "comment": ""}], "urgent_concern": None}
    filled = sharing.with_defaults(old)
    assert filled["answered_by"] == "alone" and filled["texts_share"] == filled["urgent_concern_share"] == "anonymous"
    assert filled["answers"][0]["share"] == "anonymous"
    assert "share" not in old["answers"][0] and "answered_by" not in old


def test_the_content_hash_covers_sharing_and_treats_missing_as_the_defaults():
    body = {
        "site_id": "S1",
        "question_set": {"id": "q", "version": 1},
        "visited_on": "2026-11-01",
        "answers": [{"question_id": "a", "score": 1, "comment": ""}],
        "working": [],
        "not_working": [],
        "urgent_concern": None,
    }
    base = content_hash(body)
    # What the hash was before the sharing fields existed: a check sent then and
    # retried after the deploy must be a retry, not a conflict.
    assert base == "90443fd2078ae9b6194beaab5a873d86500110efe50785b97064bfb6d1d23484"
    assert content_hash(sharing.with_defaults(body)) == base
    assert content_hash({**body, "answered_by": "with_supporter"}) != base
    assert content_hash({**body, "texts_share": "named"}) != base
    assert content_hash({**body, "urgent_concern_share": "named"}) != base
    assert content_hash({**body, "answers": [{**body["answers"][0], "share": "named"}]}) != base


def test_the_profile_may_say_who_usually_answers():
    base = {"pictures": "symbols", "read_aloud": "on", "text_size": "normal", "per_screen": "one"}
    assert Profile.from_form(base) == (Profile(), {})  # an older form without the question: ask each time
    assert Profile.from_form({**base, "answered_by": "ask"}) == (Profile(), {})
    assert Profile.from_form({**base, "answered_by": "with_supporter"})[0].answered_by == "with_supporter"
    assert "answered_by" in Profile.from_form({**base, "answered_by": "robot"})[1]
    assert Profile.from_doc({"answered_by": "supporter_wrote"}).answered_by == "supporter_wrote"
    assert Profile.from_doc({"answered_by": "robot"}).answered_by is None


V2 = json.loads((ROOT / "schemas" / "question-sets" / "everyday-life.v2.json").read_text())


def test_v2_is_v1_with_the_confidence_question_added():
    assert V2["version"] == 2 and V2["scale"] == QUESTION_SET["scale"]
    assert V2["questions"][:-1] == QUESTIONS
    assert V2["questions"][-1]["id"] == "things-will-get-better" and V2["questions"][-1]["kind"] == "confidence"


def test_a_question_uses_its_own_answer_words_and_thumbs_else_the_scale():
    sure = V2["questions"][-1]
    options = answer_options(sure, V2["scale"])
    assert [(o["key"], o["label"], o["symbol"]) for o in options] == [
        ("3", "Very sure", "thumbs-up"),
        ("2", "A bit sure", "thumb-sideways"),
        ("1", "Not sure", "thumbs-down"),
        ("skip", "I don't want to answer", "skip"),
    ]
    plain = answer_options(QUESTIONS[0], V2["scale"])
    assert [(o["label"], o["symbol"]) for o in plain] == [(s["label"], s["symbol"]) for s in V2["scale"]]
    assert answer_words(sure, V2["scale"], 2) == "A bit sure" and answer_words(sure, V2["scale"], None).startswith(
        "I don"
    )
    assert answer_words(QUESTIONS[1], V2["scale"], 1) == "Not good"


def test_a_draft_on_v1_becomes_a_v1_body_and_on_v2_a_v2_body():
    draft = {"_id": "d", "site_id": "S0001", "answers": {"things-will-get-better": {"score": 3}}}
    old = intake.submission_from_draft(draft, QUESTION_SET, dt.date(2026, 11, 25))
    new = intake.submission_from_draft(draft, V2, dt.date(2026, 11, 25))
    assert old["question_set"]["version"] == 1 and len(old["answers"]) == 7
    assert new["question_set"]["version"] == 2 and new["answers"][-1]["score"] == 3


def test_a_check_is_offered_again_only_when_the_checker_can_put_it_right():
    from services.checks.rules.validation import can_send_again

    def record(*codes, **more):
        return {"status": "rejected", "reasons": [{"code": c} for c in codes], **more}

    assert can_send_again(record("visit_in_future")) and can_send_again(record("visit_too_old", "question_unknown"))
    assert not can_send_again(record("visit_in_future", "checker_unknown")), "one reason needs the supporter"
    assert not can_send_again(record("duplicate")) and not can_send_again(record())
    assert not can_send_again(record("visit_in_future", sent_again_as="x")), "sent again once"
    assert not can_send_again({"status": "validated", "reasons": []})


def test_a_recording_is_named_by_its_words_and_voice():
    from services.checks.web import recordings

    name = recordings.file_name("Do you feel safe where you live?")
    assert name == recordings.file_name("Do you  feel safe where you live? ") and name.endswith(".wav")
    assert name != recordings.file_name("Do you feel safe here?"), "new words, a new recording"
    said = recordings.phrases(QUESTION_SET)
    assert "Do you feel safe where you live?" in said and "Good" in said and "I don't want to answer" in said
    assert len(said) == len(set(said)), "each recorded once"
