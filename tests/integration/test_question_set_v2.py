"""everyday-life v2 adds the confidence question, v3 rewords it; v1 and v2 checks (old drafts, waiting phones) are
still accepted."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest

from qc import events
from qc.handler import Delivery
from qc.settings import TOPICS
from services.checks.stores import submissions as checks_store
from services.checks.stores.profiles import Drafts
from services.checks.worker import ChecksHandler
from tests.conftest import read_topic, validate_all

pytestmark = pytest.mark.integration
V1 = ("listened-to", "feel-safe", "home-clean", "choose-day", "respect", "know-complain", "see-people")
V2 = (*V1, "things-will-get-better")


@pytest.fixture
def app(checks_app):
    """The seeded checks app (tests/integration/conftest.py)."""
    return checks_app


@pytest.fixture
def client(signed_in_client):
    return signed_in_client


def _csrf(page) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.get_data(as_text=True)).group(1)


def _body(version: int, questions) -> dict:
    return {
        "submission_id": str(uuid.uuid4()),
        "site_id": "S0001",
        "question_set": {"id": "everyday-life", "version": version},
        "visited_on": dt.date.today().isoformat(),
        "answers": [{"question_id": q, "score": 2, "comment": ""} for q in questions],
    }


def test_v3_is_current_and_v1_v2_and_v3_checks_are_all_validated(app, client, settings, publisher):
    ctx = app.extensions["qc.checks"]
    assert ctx.question_sets.current()["version"] == 3 and ctx.question_sets.get("everyday-life", 1) is not None
    headers = {"Authorization": f"Bearer {app.token}"}
    old, new, newest = _body(1, V1), _body(2, V2), _body(3, V2)  # v3 rewords a question: the same ids
    for body in (old, new, newest):
        assert client.post("/api/v1/submissions", json=body, headers=headers).status_code == 202
    ids = {old["submission_id"], new["submission_id"], newest["submission_id"]}
    received = [
        e for e in read_topic(settings, TOPICS["received"], lambda evs: ids <= {e["id"] for e in evs}) if e["id"] in ids
    ]
    validate_all(received, settings.schemas_dir)  # the event schema did not change for the new question
    ChecksHandler(settings, ctx.db, publisher).handle([Delivery(record=None, event=e) for e in received])
    publisher.flush()
    records = checks_store.decided(ctx.db, list(ids))
    assert {i: records[i]["status"] for i in ids} == dict.fromkeys(ids, "validated")
    validated = [
        e
        for e in read_topic(settings, TOPICS["validated"], lambda evs: ids <= {e["data"]["submission_id"] for e in evs})
        if e["data"]["submission_id"] in ids
    ]
    validate_all(validated, settings.schemas_dir)
    by_version = {e["data"]["question_set"]["version"]: e["data"] for e in validated}
    assert [a["question_id"] for a in by_version[1]["answers"]] == list(V1)
    assert [a["question_id"] for a in by_version[2]["answers"]] == list(V2)
    assert [a["question_id"] for a in by_version[3]["answers"]] == list(V2)


def test_a_draft_begun_on_v1_keeps_v1_and_is_accepted_after_the_switch(app, client, settings):
    ctx = app.extensions["qc.checks"]
    v1 = ctx.question_sets.get("everyday-life", 1)
    draft = Drafts(ctx.db).start({"checker_id": "C1", "site_id": "S0001"}, v1)
    draft_id = draft["_id"]
    check = client.get(f"/check/{draft_id}/check").get_data(as_text=True)
    assert "Do staff listen to you?" in check and "How sure are you" not in check, "the draft's own version"
    page = client.get(f"/check/{draft_id}/q-see-people")
    assert "Question 7 of 7" in page.get_data(as_text=True)
    assert client.get(f"/check/{draft_id}/q-things-will-get-better").status_code == 404
    sent = client.post(f"/check/{draft_id}/send", data={"csrf_token": _csrf(client.get("/"))})
    assert sent.status_code == 303 and sent.headers["Location"].endswith("/sent")
    [event] = [
        e
        for e in read_topic(settings, TOPICS["received"], lambda evs: any(e["id"] == draft_id for e in evs))
        if e["id"] == draft_id
    ]
    assert event["data"]["question_set"] == {"id": "everyday-life", "version": 1}
    assert [a["question_id"] for a in event["data"]["answers"]] == list(V1)
    events.validate(event, schemas_dir=settings.schemas_dir)


def test_the_confidence_question_shows_its_own_words_and_symbols(client):
    """v3 asks it in the words checkers use ("Do you think things will get better here?": Yes, Maybe, No), with
    the faces that mean yes, maybe and no everywhere else (v2's thumbs were unclear, the sideways one most)."""
    home = client.get("/")
    assert "There are 8 questions about life where you live" in home.get_data(as_text=True)
    response = client.post("/check/start", data={"csrf_token": _csrf(home)})
    draft_id = response.headers["Location"].split("/")[2]
    page = client.get(f"/check/{draft_id}/q-things-will-get-better").get_data(as_text=True)
    assert "Question 8 of 8" in page and "Do you think things will get better here?" in page
    assert "symbol-better-here" in page and "How sure" not in page
    for key, words, face in (("3", "Yes", "good"), ("2", "Maybe", "ok"), ("1", "No", "not-good")):
        label = re.search(
            rf'<label class="choice__label" for="score-things-will-get-better-{key}">(.*?)</label>', page, re.S
        )
        assert f">{words}<" in label.group(1) and f"symbol-face-{face}" in label.group(1)
        assert "symbol-thumb" not in label.group(1)
    assert "I don&#39;t want to answer" in page, "a checker may still say no"
    assert "Good" not in page.split("Question 8 of 8")[1].split("Tell us more")[0]
    other = client.get(f"/check/{draft_id}/q-feel-safe").get_data(as_text=True)
    assert "Not good" in other and "symbol-face-good" in other and "Maybe" not in other
    app_page = client.get("/check/app").get_data(as_text=True)
    assert 'data-question-set-version="3"' in app_page and "Maybe" in app_page
