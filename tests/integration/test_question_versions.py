"""Questions made with people, through the checks app on the real database and broker: the involvement lead
writes a draft, named checkers review it on their phones, it is tried at one service, then published with
who shaped it, names only where people agreed; aggregate and notify learn its words from the event. The
events go to a topic of the test's own: the stack's services must never learn a test's words."""

from __future__ import annotations

import dataclasses
import re

import pytest

from qc import auth, events, question_words
from qc.handler import Delivery
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.rollups import RollupStore
from services.aggregate.worker import AggregateHandler
from services.checks.bootstrap import create_app
from services.checks.jobs import question_events
from services.checks.stores.directory import Directory
from services.checks.stores.question_sets import QuestionSets
from services.checks.stores.question_versions import QuestionVersions
from tests import builders
from tests.conftest import csrf_of, manager_client, new_topic, read_topic

pytestmark = pytest.mark.integration
LEAD = {"username": "lead", "role": "involvement_lead"}
CHECKERS = {"C1": ("Sam Jones", "S1"), "C2": ("Priya Shah", "S1"), "C3": ("Joe Bloggs", "S2")}


@pytest.fixture
def world(settings, db):
    directory = Directory(db)
    directory.upsert("region", {"_id": "R01", "name": "North", "active": True})
    for site, name in (("S1", "Elm Court"), ("S2", "Ash Lodge")):
        directory.upsert("site", {"_id": site, "name": name, "region_id": "R01", "active": True})
    app = create_app(dataclasses.asdict(settings))
    app.extensions["qc.checks"].question_teller.topic = new_topic(settings, "qc.questions.test")
    phones = {}
    for checker, (name, site) in CHECKERS.items():
        directory.upsert("person", {"_id": checker, "name": name, "role": "checker", "site_id": site, "active": True})
        token = auth.new_checker_token()
        directory.add_checker_token(checker, site, auth.hash_checker_token(token))
        phones[checker] = app.test_client()
        assert phones[checker].get(f"/s/{token}").status_code == 303
    lead = manager_client(app, settings, **LEAD)
    yield app, lead, phones, db
    app.extensions["qc.close"]()
    question_words.learn(list)  # this process's words are the versions with the code again, not this test's


def _post(client, page_path: str, path: str, **form):
    """A form sent from its page, with the page's CSRF token (the same session as the page)."""
    return client.post(path, data={"csrf_token": csrf_of(client.get(page_path)), **form})


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_a_version_is_written_reviewed_tried_and_published_with_the_people_who_shaped_it(world, settings, publisher):
    app, lead, phones, db = world
    assert _post(lead, "/manager/questions", "/manager/questions/new").status_code == 303
    draft = QuestionVersions(db).draft()
    assert draft["version"] == 4 and draft["based_on"] == 3  # versions 1-3 came with the code

    # A key question cannot be removed; a wrong change keeps nothing.
    refused = _post(lead, "/manager/questions/draft", "/manager/questions/draft", **{"remove-listened-to": "yes"})
    assert refused.status_code == 400 and "monthly key questions" in _text(refused)
    assert [q["id"] for q in QuestionVersions(db).draft()["questions"]] == [q["id"] for q in draft["questions"]]

    changes = {
        "text-home-clean": "Is your home clean?",
        "remove-see-people": "yes",
        "new-text": "Do you like the food?",
        "new-hint": "Think about breakfast, lunch and tea.",
        "new-symbol": "house",
        "written_with": "Amina Khan",
    }
    assert _post(lead, "/manager/questions/draft", "/manager/questions/draft", **changes).status_code == 303
    questions = QuestionVersions(db).draft()["questions"]
    ids = [q["id"] for q in questions]
    assert "see-people" not in ids and ids[-1] == "do-you-like-the-food"
    assert next(q for q in questions if q["id"] == "home-clean")["text"] == "Is your home clean?"

    # Two checkers of S1 are asked; C3 is not.
    asked = _post(lead, "/manager/questions/draft/reviewers?region_id=R01", "/manager/questions/draft/reviewers",
                  region_id="R01", chosen=["C1", "C2", "nobody"])  # fmt: skip
    assert asked.status_code == 303 and QuestionVersions(db).draft()["reviewers"] == ["C1", "C2"]
    assert "Will you help with new questions?" in _text(phones["C1"].get("/"))
    assert "Will you help with new questions?" not in _text(phones["C3"].get("/"))
    assert phones["C3"].get("/questions/review").status_code == 404

    # A comment goes to the lead, not the safeguarding lead: the page says where a worry goes instead.
    review_page = _text(phones["C1"].get("/questions/review"))
    assert "If something is worrying you, press “I am worried about something”" in review_page
    # C1 agrees to be named; C2 does not. Leaving every question is refused, gently.
    empty = _post(phones["C1"], "/questions/review", "/questions/review", named="yes")
    assert empty.status_code == 400 and "Tell us about one question at least" in _text(empty)
    review = {"clear-home-clean": "yes", "clear-do-you-like-the-food": "not_sure", "named": "yes"}
    review["comment-do-you-like-the-food"] = "Say which meals"
    assert _post(phones["C1"], "/questions/review", "/questions/review", **review).status_code == 303
    # The lead sees how many answered and whom they asked, not who answered (that would name the comments).
    assert "1 of 2 asked have answered (asked: Priya Shah, Sam Jones)" in _text(lead.get("/manager/questions"))
    again = {"clear-home-clean": "no", "comment-home-clean": "Clean is a big word", "named": "no"}
    assert _post(phones["C2"], "/questions/review", "/questions/review", **again).status_code == 303
    assert phones["C1"].get("/questions/review").status_code == 404  # one review each
    assert "Will you help with new questions?" not in _text(phones["C1"].get("/"))

    overview = _text(lead.get("/manager/questions"))
    said = overview[overview.index("What the checkers said") :]
    assert "“Say which meals”" in said and "“Clean is a big word”" in said
    assert "Yes: 1, Not sure: 0, No: 1" in said  # "Is your home clean?"
    assert "Sam Jones" not in said and "Priya Shah" not in said  # comments without names

    # Tried at Elm Court (S1): its checkers answer the draft; Ash Lodge's do not; it can no longer change.
    tried = _post(lead, "/manager/questions/draft/pilot?region_id=R01", "/manager/questions/draft/pilot",
                  region_id="R01", chosen=["S1"])  # fmt: skip
    assert tried.status_code == 303
    assert "Do you like the food?" in _text(phones["C1"].get("/check/app"))
    assert "Do you like the food?" not in _text(phones["C3"].get("/check/app"))
    sets = app.extensions["qc.checks"].question_sets
    assert sets.current("S1")["version"] == 4 and sets.current("S2")["version"] == 3
    assert lead.get("/manager/questions/draft").status_code == 303  # no changing a version being answered
    elsewhere = QuestionSets.load(settings.schemas_dir, QuestionVersions(db))  # another process, e.g. the validator
    assert elsewhere.get("everyday-life", 4)["questions"] == QuestionVersions(db).draft()["questions"]

    # Asked first, with exactly what everyone will see; the names it was written with can still be put right.
    confirm = _text(lead.get("/manager/questions/draft/publish"))
    assert "Checked by 2 checkers, among them Sam Jones." in confirm
    assert "1 of the checkers who reviewed it chose to keep their name private" in confirm
    too_long = _post(
        lead, "/manager/questions/draft/publish", "/manager/questions/draft/publish", written_with="x" * 301
    )
    assert too_long.status_code == 400 and QuestionVersions(db).draft()["status"] == "pilot"
    published = _post(lead, "/manager/questions/draft/publish", "/manager/questions/draft/publish",
                      written_with="Amina  Khan")  # fmt: skip
    assert published.status_code == 303
    published = db["question_versions"].find_one({"_id": "everyday-life:4"})
    assert published["status"] == "published"
    assert published["credits"] == {
        "written_with": "Amina Khan",
        "reviewed_by": ["Sam Jones"],
        "reviewed_count": 2,
        "piloted_at": ["Elm Court"],
    }
    start = _text(phones["C3"].get("/"))
    assert "These questions were written with checkers." in start and "Sam Jones" in start
    assert "Priya Shah" not in start  # she did not agree to be named
    assert sets.current("S2")["version"] == 4

    # aggregate and notify learn the new words from the events (tried, then published), and say them.
    topic = app.extensions["qc.checks"].question_teller.topic
    told = read_topic(settings, topic, lambda evs: [e["data"]["status"] for e in evs] == ["pilot", "published"])
    for event in told:
        events.validate(event, schemas_dir=settings.schemas_dir)
    assert "Clean is a big word" not in str(told) and "Sam Jones" not in str(told)  # words of questions only
    deliveries = [Delivery(record=None, event=e) for e in reversed(told)]  # a redelivered older step comes last
    AggregateHandler(RollupStore(db), SiteDirectory(db), publisher=None).handle(deliveries)
    builders.notify_handler(db, settings, publisher).handle(deliveries)
    for prefix in ("agg", "notify"):
        question_words.learn(question_words.LearnedVersions(db, prefix).all)
        assert question_words.text("do-you-like-the-food") == "Do you like the food?"
        assert question_words.text("home-clean") == "Is your home clean?"
        assert question_words.text("see-people") == "Can you see the people who matter to you?"  # from version 3

    # What every reader is given never says who was asked, nor what they said.
    public = app.test_client().get("/api/v1/question-sets/current").get_json()
    assert public["version"] == 4 and "reviews" not in public and "reviewers" not in public
    assert "Priya" not in str(public) and "Clean is a big word" not in str(public)

    report = _text(manager_client(app, settings, **LEAD).get("/manager/involvement"))
    assert re.search(r"Version 4: Written with Amina Khan\. Checked by 2 checkers, among them Sam Jones\. "
                     r"Tried at Elm Court\.", report)  # fmt: skip


def test_two_drafts_at_once_are_refused_and_a_stopped_draft_gives_its_number_up(world):
    app, lead, _phones, db = world
    assert _post(lead, "/manager/questions", "/manager/questions/new").status_code == 303
    second = _post(lead, "/manager/questions", "/manager/questions/new")
    assert second.status_code == 409 and "already a draft" in _text(second)
    assert _post(lead, "/manager/questions", "/manager/questions/draft/stop").status_code == 303
    assert _post(lead, "/manager/questions", "/manager/questions/new").status_code == 303
    assert QuestionVersions(db).draft()["version"] == 5  # 4 was given up: never reused
    history = [h["what"] for h in db["question_versions"].find_one({"_id": "everyday-life:4"})["history"]]
    assert history == ["started from version 3", "stopped it"]


def test_only_the_involvement_lead_and_the_administrator_write_questions(world, settings):
    app, _lead, _phones, _db = world
    regional = manager_client(app, settings, username="rm", role="regional_manager", region_id="R01")
    assert regional.get("/manager/questions").status_code == 403
    assert "data-questions-link" not in _text(regional.get("/manager/checkers"))
    admin = manager_client(app, settings, username="admin", role="org_admin")
    assert admin.get("/manager/questions").status_code == 200
    assert 'href="/manager/questions" data-questions-link' in _text(admin.get("/manager/checkers"))


def test_a_step_the_broker_did_not_take_is_told_by_the_checks_worker(world, settings, publisher):
    app, lead, _phones, db = world
    ctx = app.extensions["qc.checks"]
    topic = ctx.question_teller.topic
    ctx.question_teller = lambda doc: False  # the broker was down when the pilot started
    assert _post(lead, "/manager/questions", "/manager/questions/new").status_code == 303
    tried = _post(lead, "/manager/questions/draft/pilot?region_id=R01", "/manager/questions/draft/pilot",
                  region_id="R01", chosen=["S2"])  # fmt: skip
    assert tried.status_code == 303 and [d["_id"] for d in QuestionVersions(db).untold()] == ["everyday-life:4"]
    assert ctx.question_sets.current("S2")["version"] == 4  # the step itself stands

    job = question_events.job(settings, db)  # the checks worker's
    job.teller = question_events.Teller(publisher, QuestionVersions(db), topic)
    job()
    assert QuestionVersions(db).untold() == []
    [event] = read_topic(settings, topic, lambda evs: len(evs) == 1)
    assert event["data"]["status"] == "pilot" and event["id"] == "everyday-life:4:pilot"
