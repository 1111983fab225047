"""The rules for a new version of the questions: the lead's changes, a checker's review, who shaped it."""

from services.checks.rules import question_drafting as drafting

QUESTIONS = [
    {"id": "listened-to", "text": "Do staff listen to you?", "hint": "", "symbol": "ear", "safety": False},
    {"id": "see-people", "text": "Can you see the people who matter to you?", "hint": "", "symbol": "people"},
]
KEY = {"listened-to"}


def _changes(**form):
    return drafting.read_changes(form, QUESTIONS, KEY, {"listened-to", "see-people", "do-you-like-the-food"})


def test_words_are_changed_a_question_removed_and_one_added_with_an_id_never_used():
    form = {
        "text-listened-to": "  Do staff   listen? ",
        "remove-see-people": "yes",
        "new-text": "Do you like the food?",
    }
    questions, written_with, errors = _changes(**form, **{"new-symbol": "house", "written_with": " Amina  Khan "})
    assert errors == {} and written_with == "Amina Khan"
    assert [q["id"] for q in questions] == ["listened-to", "do-you-like-the-food-2"]
    assert questions[0]["text"] == "Do staff listen?" and questions[1]["safety"] is False


def test_a_key_question_is_not_removed_and_a_new_one_needs_a_picture():
    _questions, _w, errors = _changes(**{"remove-listened-to": "yes", "new-text": "Is it warm?", "new-symbol": "x"})
    assert set(errors) == {"remove-listened-to", "new-symbol"}


def test_a_question_left_empty_or_too_long_is_named():
    _q, _w, errors = _changes(**{"text-listened-to": "", "text-see-people": "x" * 121})
    assert errors == {
        "text-listened-to": "Write the question.",
        "text-see-people": "Make the question shorter: at most 120 letters.",
    }


def test_a_review_may_leave_questions_but_not_all_of_them():
    answers, named, errors = drafting.read_review({"clear-listened-to": "no", "named": "yes"}, QUESTIONS)
    assert errors == {} and named is True
    assert answers == {"listened-to": {"clear": "no", "comment": "", "text": "Do staff listen to you?"}}
    assert drafting.read_review({}, QUESTIONS)[2] == {"review": "Tell us about one question at least. Is it clear?"}
    assert "clear-listened-to" in drafting.read_review({"clear-listened-to": "maybe"}, QUESTIONS)[2]


def test_credits_name_only_reviewers_who_agreed():
    draft = {
        "written_with": "Amina Khan",
        "reviews": [{"name": "Sam Jones"}, {"name": None}, {"name": "Joe Bloggs"}],
    }
    credits = drafting.credits(draft, ["Elm Court", "Ash Lodge"])
    assert credits["reviewed_by"] == ["Sam Jones", "Joe Bloggs"] and credits["reviewed_count"] == 3
    assert drafting.credit_words(credits) == (
        "Written with Amina Khan. Checked by 3 checkers, among them Sam Jones and Joe Bloggs. "
        "Tried at Elm Court and Ash Lodge."
    )
    assert drafting.credit_words({"reviewed_count": 1, "reviewed_by": []}) == "Checked by 1 checker."


def test_the_lead_reads_comments_without_names_and_knows_which_were_about_earlier_words():
    draft = {
        "questions": [{"id": "listened-to", "text": "Do staff listen?"}],
        "reviews": [
            {
                "name": "Sam",
                "answers": {"listened-to": {"clear": "yes", "comment": "Good", "text": "Do staff listen?"}},
            },
            {"name": None, "answers": {"listened-to": {"clear": "no", "comment": "Hard", "text": "Old words?"}}},
        ],
    }
    [row] = drafting.review_summary(draft)
    assert row["counts"] == {"yes": 1, "not_sure": 0, "no": 1}
    assert row["comments"] == [{"words": "Good", "earlier": False}, {"words": "Hard", "earlier": True}]


def test_a_version_number_is_never_used_twice():
    assert drafting.next_version([1, 2, 3, 5]) == 6 and drafting.next_version([]) == 1
