"""The "You said, we did" board's pure logic: plain words, first names only where agreed, no words of a worry."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from services.notify.rules import board, consent

WHEN = dt.datetime(2026, 11, 25, 10, tzinfo=dt.UTC)
TEXTS = {"feel-safe": "Do you feel safe where you live?"}


def _voice(checker_id, share, question_id="feel-safe", answered_by="alone"):
    validated = {"submission_id": f"s-{checker_id}", "checker_id": checker_id, "answered_by": answered_by}
    return consent.voice(validated, question_id, share, "a comment")


def _alert(**changes):
    alert = {
        "_id": "A1",
        "status": "open",
        "raised_at": WHEN,
        "question_ids": ["feel-safe"],
        "voices": [_voice("C1", "named"), _voice("C2", "anonymous")],
        "safeguarding": False,
    }
    alert.update(changes)
    return alert


def test_better_words():
    assert board.better_words(None) is None
    assert board.better_words(Counter(better=2)) == "yes"
    assert board.better_words(Counter(no=1, better=2, a_bit=1)) == "yes (2), a bit (1), no (1)"


def test_only_first_names_of_those_who_agreed():
    [said] = board.item(_alert(), None, {"C1": "Samira Quinn", "C2": "Tom Baker"}, TEXTS)["said"]
    assert said == {"words": "You said you do not always feel safe where you live.", "names": ["Samira"]}


def test_a_question_the_board_has_no_sentence_for_is_said_back_in_its_own_words():
    words = board.said_not_good("new-question", {"new-question": "Is the garden nice?"})
    assert words == "You said “Not good” to “Is the garden nice?”"
    assert board.said_not_good("feel-safe", TEXTS) == "You said you do not always feel safe where you live."


def test_a_worry_shows_no_words_names_or_response():
    worry = _alert(
        safeguarding=True,
        question_ids=[],
        voices=[_voice("C1", "named", None)],
        status="resolved",
        resolved_at=WHEN,
        response="We told the police about Ann",
        details={"urgent_concern": "Ann hurts me"},
    )
    shown = board.item(worry, Counter(better=1), {"C1": "Samira Quinn"}, TEXTS)
    assert shown["worry"] and shown["said"] == [] and shown["did"] is None
    assert "Ann" not in repr(shown) and "Samira" not in repr(shown)


def test_what_goes_on_the_board():
    score = _alert(_id="A2", question_ids=[], voices=[])  # a low score: not something a person raised
    alerts = [_alert(), score, _alert(_id="A3", raised_at=WHEN + dt.timedelta(days=1))]
    assert [i["id"] for i in board.items(alerts, {}, {}, TEXTS)] == ["A3", "A1"]
    assert board.items(alerts, {}, {}, TEXTS)[0]["working_on_it"]


def test_anonymous_is_the_default_and_no_checker_id_is_shown():
    voices = consent.public_voices({"voices": [_voice("C1", None), _voice("C2", "named")]}, {"C2": "Tom Baker"})
    assert [v["from"] for v in voices] == ["Tom Baker", "Anonymous"]
    assert "C1" not in repr(voices) and "C2" not in repr(voices)


def test_one_anonymous_voice_keeps_every_name_of_that_check_hidden():
    named, anonymous = _voice("C1", "named"), _voice("C1", "anonymous", "respect")
    assert [v["named"] for v in consent.guard([named, anonymous])] == [False, False]
    assert [v["named"] for v in consent.guard([named, named])] == [True, True]
    assert consent.guard([named, anonymous])[0]["share"] == "named"  # what they chose is still on record


def test_every_published_question_has_an_easy_read_sentence_on_the_board():
    from qc import question_words

    missing = sorted(set(question_words.texts()) - set(board.SAID_NOT_GOOD))
    assert missing == [], "add its 'You said …' sentence to services/notify/rules/board.py"
