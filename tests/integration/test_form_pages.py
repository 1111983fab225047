"""The checker's form pages over the real broker and database (Flask test client, no JavaScript)."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest

from qc.settings import TOPICS
from services.checks.stores.contributions import Contributions
from services.checks.stores.directory import Directory
from tests.conftest import read_topic, wait_for

pytestmark = pytest.mark.integration
QUESTIONS = [
    *("listened-to", "feel-safe", "home-clean", "choose-day", "respect", "know-complain", "see-people"),
    "things-will-get-better",  # everyday-life v3: "Do you think things will get better here?"
]


@pytest.fixture
def app(checks_app):
    """The seeded checks app (tests/integration/conftest.py)."""
    return checks_app


@pytest.fixture
def client(signed_in_client):
    return signed_in_client


def _csrf(page) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.get_data(as_text=True)).group(1)


def _start(client) -> str:
    home = client.get("/")
    response = client.post("/check/start", data={"csrf_token": _csrf(home)})
    assert response.status_code == 303
    match = re.match(r"/check/([0-9a-f-]{36})/who$", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def _answer(client, draft_id, name, data):
    page = client.get(f"/check/{draft_id}/{name}")
    return client.post(f"/check/{draft_id}/{name}", data={"csrf_token": _csrf(page), **data})


def test_start_page_offers_a_check_to_a_signed_in_checker(client):
    page = client.get("/").get_data(as_text=True)
    assert "Oak House" in page and "Start a check" in page and "I am worried about something" in page
    assert client.get("/").headers["Referrer-Policy"] == "no-referrer"


def test_without_the_cookie_the_pages_ask_for_the_link(app):
    with app.test_client() as c:
        assert "open your own link" in c.get("/").get_data(as_text=True)
        assert c.get("/my-checks").status_code == 401
        assert c.post("/check/start").status_code == 401


def test_a_post_without_the_csrf_token_is_refused(client):
    response = client.post("/check/start", data={})
    assert response.status_code == 400
    assert "Please go back and try again" in response.get_data(as_text=True)
    assert client.post("/check/submit", json={}).status_code == 403


def test_a_whole_check_without_javascript_is_sent_once(client, settings):
    draft_id = _start(client)
    # Who is answering: a choice is needed, said in plain words at the top and next to the field.
    missing = _answer(client, draft_id, "who", {})
    assert missing.status_code == 400
    text = missing.get_data(as_text=True)
    assert text.count("Choose who is answering the questions.") == 2 and 'href="#answered-by"' in text
    chosen = _answer(client, draft_id, "who", {"answered_by": "with_supporter"})
    assert chosen.headers["Location"].endswith("/when")
    when = client.get(f"/check/{draft_id}/when").get_data(as_text=True)
    assert 'id="visited" name="visited" value="today" checked' in when, "today unless the checker says otherwise"
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    assert _answer(client, draft_id, "when", {"visited": "yesterday"}).headers["Location"].endswith("/q-listened-to")
    # Nothing chosen: the error is in plain words, in a summary and next to the question.
    missing = _answer(client, draft_id, "q-listened-to", {"score-listened-to": ""})
    assert missing.status_code == 400
    text = missing.get_data(as_text=True)
    assert text.count("Choose an answer. If you do not want to answer") == 2
    assert "There is a problem" in text and 'href="#score-listened-to-3"' in text
    scores = {"listened-to": "3", "feel-safe": "1", "home-clean": "skip", "choose-day": "2"}
    # One thing per screen: the answer; saying more is a closed "Tell us more"; the name is one line with "Change".
    page = client.get(f"/check/{draft_id}/q-feel-safe").get_data(as_text=True)
    assert "Who can see this?" not in page and 'name="share-feel-safe"' not in page
    assert '<details class="details" data-comment-details >' in page, "closed until the checker asks to say more"
    reminder = page[page.index("data-name-reminder") :]
    assert re.search(r'data-name-when="anonymous"\s*>', reminder), "private unless the checker chose otherwise"
    assert re.search(r'data-name-when="named"\s*hidden', reminder)
    assert f'href="/check/{draft_id}/your-name?from=q-feel-safe"' in reminder
    for qid in QUESTIONS:
        data = {f"score-{qid}": scores.get(qid, "3"), f"comment-{qid}": "kind" if qid == "respect" else ""}
        data[f"share-{qid}"] = "named"  # not asked on a question screen: not taken from it
        response = _answer(client, draft_id, f"q-{qid}", data)
        assert response.status_code == 303
    assert response.headers["Location"].endswith("/working")
    page = client.get(f"/check/{draft_id}/q-respect").get_data(as_text=True)
    assert '<details class="details" data-comment-details open>' in page, "open where something is written"
    assert _answer(client, draft_id, "working", {"items": "the garden\n\n the cook "}).status_code == 303
    # The name: changed for this check on its own screen, which goes back to where the checker was.
    name_page = client.get(f"/check/{draft_id}/your-name?from=not-working").get_data(as_text=True)
    assert "Who can see your name?" in name_page and 'id="share" name="share" value="anonymous" checked' in name_page
    changed = _answer(client, draft_id, "your-name?from=not-working", {"share": "named"})
    assert changed.headers["Location"].endswith(f"/check/{draft_id}/not-working")
    page = client.get(f"/check/{draft_id}/not-working").get_data(as_text=True)
    assert re.search(r'data-name-when="named"\s*>', page) and "Who can see this?" not in page
    assert _answer(client, draft_id, "not-working", {"items": "the night shift"}).headers["Location"].endswith("/check")
    check = client.get(f"/check/{draft_id}/check").get_data(as_text=True)
    assert "Check your answers" in check and "the cook" in check and "I don&#39;t want to answer" in check
    assert "Me, with a supporter helping" in check
    assert check.count("The manager can see your name") == 1, "said once, in its own row"
    assert f'href="/check/{draft_id}/your-name?from=check"' in check
    # The confidence question shows its own words ("Yes"), not the scale's ("Good").
    assert "Do you think things will get better here?" in check
    assert re.search(r'data-row="things-will-get-better">.*?<dd class="summary-list__value">\s*Yes', check, re.S)
    sent = client.post(f"/check/{draft_id}/send", data={"csrf_token": _csrf(client.get("/"))})
    assert sent.status_code == 303 and sent.headers["Location"].endswith(f"/check/{draft_id}/sent")
    assert "Your check has been sent" in client.get(sent.headers["Location"]).get_data(as_text=True)
    # Pressing send again (a double tap, a retry) sends nothing new.
    client.post(f"/check/{draft_id}/send", data={"csrf_token": _csrf(client.get("/"))})
    events = read_topic(settings, TOPICS["received"], lambda evs: any(e["id"] == draft_id for e in evs))
    [event] = [e for e in events if e["id"] == draft_id]
    data = event["data"]
    assert [a["question_id"] for a in data["answers"]] == QUESTIONS
    assert {a["question_id"]: a["score"] for a in data["answers"]}["home-clean"] is None
    assert data["working"] == ["the garden", "the cook"] and data["not_working"] == ["the night shift"]
    assert data["urgent_concern"] is None and data["checker_id"] == "C1"
    assert data["answered_by"] == "with_supporter" and data["visited_on"] == yesterday
    assert {a["share"] for a in data["answers"]} == {"named"}, "the one choice covers every answer"
    assert data["texts_share"] == "named" and data["urgent_concern_share"] == "anonymous"
    my = client.get("/my-checks").get_data(as_text=True)
    assert f'data-check="{draft_id}"' in my
    assert "You answered with a supporter helping" in my
    assert 'Do you think things will get better here?</dt><dd class="summary-list__value">Yes' in my
    assert "Not good" in my, "the answers in the words each question used"


def _boxes(day: dt.date) -> dict[str, str]:
    return {"visited_on_day": str(day.day), "visited_on_month": str(day.month), "visited_on_year": str(day.year)}


@pytest.mark.parametrize(
    "written,words",
    [
        (-1, "cannot be in the future"),
        (31, "more than 30 days ago"),
        (("32", "13", "2026"), "Write a day that exists, for example"),
        (("1", "1", "²"), "Write a day that exists"),  # a digit to isdigit(), not to int()
        (("1", "1", "9" * 10), "Write a day that exists"),  # a year too large for a date
        (("", "", ""), "Write the day, month and year you visited, for example"),
        (("3", "", ""), "Write the month and year you visited"),
        (("", "11", "2026"), "Write the day you visited"),
    ],
)
def test_a_visit_on_another_day_must_be_a_day_in_the_last_30_days(client, written, words):
    draft_id = _start(client)
    if isinstance(written, int):
        boxes = _boxes(dt.date.today() - dt.timedelta(days=written))
    else:
        boxes = dict(zip(("visited_on_day", "visited_on_month", "visited_on_year"), written, strict=True))
    bad = _answer(client, draft_id, "when", {"visited": "other", **boxes})
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert text.count(words) == 2 and 'href="#visited-on"' in text and "There is a problem" in text
    for name, value in boxes.items():  # what the checker wrote is shown back, box by box
        assert f'name="{name}"' in text and f'value="{value}"' in text


def test_a_visit_on_another_day_is_kept(client):
    draft_id = _start(client)
    day = dt.date.today() - dt.timedelta(days=12)
    assert _answer(client, draft_id, "when", {"visited": "other", **_boxes(day)}).status_code == 303
    again = client.get(f"/check/{draft_id}/when").get_data(as_text=True)
    assert 'value="other" checked' in again
    assert 'id="visited-on" name="visited_on_day"' in again and f'value="{day.day}"' in again
    assert f'value="{day.year}"' in again
    check = client.get(f"/check/{draft_id}/check").get_data(as_text=True)
    assert f"{day.day} {day:%B %Y}" in check


def test_a_page_from_before_the_day_boxes_still_sends_its_one_box(client):
    """A phone may hold an older copy of the form (offline), with one box for the whole day."""
    draft_id = _start(client)
    day = dt.date.today() - dt.timedelta(days=3)
    written = f"{day.day}/{day.month}/{day.year}"
    assert _answer(client, draft_id, "when", {"visited": "other", "visited_on": written}).status_code == 303
    check = client.get(f"/check/{draft_id}/check").get_data(as_text=True)
    assert f"{day.day} {day:%B %Y}" in check


def test_the_worried_path_explains_who_is_told_and_sends_the_worry_alone(client, settings, app):
    draft_id = _start(client)
    page = client.get(f"/check/{draft_id}/worried?from=q-listened-to")
    text = page.get_data(as_text=True)
    for words in ("the manager of the service", "the regional manager", "the safeguarding lead", "straight away"):
        assert words in text
    answered = _answer(client, draft_id, "q-listened-to", {"score-listened-to": "2", "comment-listened-to": ""})
    assert answered.status_code == 303
    with_answers = client.get(f"/check/{draft_id}/worried?from=q-feel-safe").get_data(as_text=True)
    # Said before the choice: sending the worry now sends the worry and nothing else.
    assert with_answers.index("data-worry-alone") < with_answers.index('value="send"')
    assert "only your worry is sent" in with_answers
    empty = client.post(
        f"/check/{draft_id}/worried", data={"csrf_token": _csrf(page), "action": "send", "concern": " "}
    )
    assert empty.status_code == 400 and "Write what you are worried about" in empty.get_data(as_text=True)
    kept = client.post(
        f"/check/{draft_id}/worried",
        data={"csrf_token": _csrf(page), "action": "save", "concern": "Night staff shout", "from": "q-feel-safe"},
    )
    assert kept.headers["Location"].endswith(f"/check/{draft_id}/q-feel-safe")
    assert "the safeguarding lead still has to do something" in text
    assert "is not told that it was you" in text
    assert 'id="share-concern" name="share-concern" value="anonymous" checked' in text
    form = {"csrf_token": _csrf(page), "action": "send", "concern": "Night staff shout", "share-concern": "named"}
    now = client.post(f"/check/{draft_id}/worried", data={**form, "from": "q-feel-safe"})
    assert now.status_code == 303 and f"/check/{draft_id}/worry-sent" in now.headers["Location"]
    sent_page = client.get(now.headers["Location"]).get_data(as_text=True)
    assert "Your worry has been sent" in sent_page and "Only your worry was sent" in sent_page
    assert f'href="/check/{draft_id}/q-feel-safe" data-carry-on' in sent_page
    # Pressed again (Back, then the button): the same worry, not a second one.
    again = client.post(f"/check/{draft_id}/worried", data={**form, "from": "q-feel-safe"})
    assert again.status_code == 303 and "/worry-sent" in again.headers["Location"]
    worries = list(app.extensions["qc.checks"].db["submissions"].find({"checker_id": "C1", "kind": "worry"}))
    assert len(worries) == 1 and worries[0]["_id"] != draft_id

    events = read_topic(settings, TOPICS["received"], lambda evs: any(e["id"] == worries[0]["_id"] for e in evs))
    [event] = [e for e in events if e["id"] == worries[0]["_id"]]
    assert event["data"]["kind"] == "worry" and event["data"]["urgent_concern"] == "Night staff shout"
    assert event["data"]["urgent_concern_share"] == "named" and event["data"]["answered_by"] == "alone"
    # Nothing of the check went with it: not the answer given, not the texts.
    assert event["data"]["answers"] == [] and event["data"]["working"] == [] == event["data"]["not_working"]
    assert event["data"]["visited_on"] == dt.date.today().isoformat()
    assert not any(e["id"] == draft_id for e in events), "the check is not sent"

    # The check carries on without the worry (it must not go twice), and says it was sent.
    check = client.get(f"/check/{draft_id}/check").get_data(as_text=True)
    assert "You sent your worry already, on its own." in check[check.index('data-row="worried"') :]
    sent = client.post(f"/check/{draft_id}/send", data={"csrf_token": _csrf(page)})
    assert sent.headers["Location"].endswith(f"/check/{draft_id}/sent")
    events = read_topic(settings, TOPICS["received"], lambda evs: any(e["id"] == draft_id for e in evs))
    [check_event] = [e for e in events if e["id"] == draft_id]
    assert check_event["data"]["urgent_concern"] is None and "kind" not in check_event["data"]
    assert {a["question_id"]: a["score"] for a in check_event["data"]["answers"]}["listened-to"] == 2


def test_a_worry_from_outside_a_check_goes_alone_and_starts_nothing(client, settings, app):
    page = client.get("/worried")
    assert page.status_code == 200 and "data-worry-alone" not in page.get_data(as_text=True)
    sent = client.post("/worried", data={"csrf_token": _csrf(page), "action": "send", "concern": "The lift is broken"})
    assert sent.status_code == 303 and sent.headers["Location"].endswith("/worry-sent")
    assert "Go to My checks" in client.get("/worry-sent").get_data(as_text=True)
    db = app.extensions["qc.checks"].db
    assert db["drafts"].find_one({"checker_id": "C1", "sent_at": None}) is None, "no check was started"
    [worry] = list(db["submissions"].find({"checker_id": "C1", "kind": "worry"}))
    events = read_topic(settings, TOPICS["received"], lambda evs: any(e["id"] == worry["_id"] for e in evs))
    assert [e["data"]["urgent_concern"] for e in events if e["id"] == worry["_id"]] == ["The lift is broken"]
    my_checks = client.get("/my-checks").get_data(as_text=True)
    assert "Your worry, sent on" in my_checks and "Counted" not in my_checks
    decision = {"_id": worry["_id"], "status": "validated", "reasons": [], "region_id": "R01"}
    db["decisions"].insert_one({**decision, "decided_at": dt.datetime.now(dt.UTC)})  # as the validator will
    assert Contributions(db).checks("C1")[0] == 0, "a worry is not a check they did (My contribution)"
    # Kept instead: it starts a check that holds it.
    kept = client.post("/worried", data={"csrf_token": _csrf(page), "action": "save", "concern": "The stairs"})
    assert kept.status_code == 303 and kept.headers["Location"].endswith("/who")
    assert db["drafts"].find_one({"checker_id": "C1", "sent_at": None})["urgent_concern"] == "The stairs"


def test_someone_elses_draft_is_not_found(client, app):
    other = app.extensions["qc.checks"].db["drafts"]
    other.insert_one({"_id": str(uuid.uuid4()), "checker_id": "C2", "site_id": "S0001", "sent_at": None})
    draft = other.find_one({"checker_id": "C2"})
    response = client.get(f"/check/{draft['_id']}/q-listened-to")
    assert response.status_code == 404 and "We cannot find this page" in response.get_data(as_text=True)


def test_how_i_like_it_is_kept_and_changes_the_pages(client):
    page = client.get("/how-i-like-it")
    bad = client.post("/how-i-like-it", data={"csrf_token": _csrf(page), "pictures": "paintings"})
    assert bad.status_code == 400 and "Choose symbols, big symbols or words only." in bad.get_data(as_text=True)
    saved = client.post(
        "/how-i-like-it",
        data={
            "csrf_token": _csrf(page),
            "pictures": "words",
            "read_aloud": "off",
            "text_size": "very-large",
            "per_screen": "all",
        },
    )
    assert saved.status_code == 303
    assert "Saved" in client.get(saved.headers["Location"]).get_data(as_text=True)
    draft_id = _start_all(client)
    text = client.get(f"/check/{draft_id}/questions").get_data(as_text=True)
    assert 'class="text-very-large pictures-words' in text
    assert all(f'name="score-{qid}"' in text for qid in QUESTIONS)
    assert "<svg" not in text.split('id="main"')[1] and "data-read-aloud" not in text.split('id="main"')[1]


def _start_all(client) -> str:
    response = client.post("/check/start", data={"csrf_token": _csrf(client.get("/"))})
    assert response.headers["Location"].endswith("/who")
    return response.headers["Location"].split("/")[2]


def test_the_json_send_uses_the_same_intake(client, settings):
    page = client.get("/check/app")
    token = re.search(r'name="qc-csrf" content="([0-9a-f]+)"', page.get_data(as_text=True)).group(1)
    body = {
        "submission_id": str(uuid.uuid4()),
        "site_id": "S0001",
        "question_set": {"id": "everyday-life", "version": 1},
        "visited_on": dt.date.today().isoformat(),
        "answers": [{"question_id": "feel-safe", "score": 2, "comment": ""}],
    }
    headers = {"X-CSRF-Token": token}
    first = client.post("/check/submit", json=body, headers=headers)
    again = client.post("/check/submit", json=body, headers=headers)
    assert first.status_code == again.status_code == 202 and first.json == again.json
    bad = client.post("/check/submit", json={**body, "submission_id": "x"}, headers=headers)
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "submission_id"
    events = read_topic(settings, TOPICS["received"], lambda evs: any(e["id"] == body["submission_id"] for e in evs))
    assert sum(1 for e in events if e["id"] == body["submission_id"]) == 1


def test_sign_out_on_this_phone_keeps_the_link_working(app, client):
    csrf = _csrf(client.get("/how-i-like-it"))
    page = client.post("/sign-out", data={"csrf_token": csrf, "stop": "phone"})
    assert "signed out on this phone" in page.get_data(as_text=True)
    assert client.get_cookie("qc_checker") is None
    assert client.get(f"/s/{app.token}").status_code == 303  # the link still signs in


def test_stop_my_link_asks_first_and_names_who_gives_a_new_one(app, client):
    directory = Directory(app.extensions["qc.checks"].db)
    directory.upsert("person", {"_id": "SM1", "name": "Sam Patel", "role": "site_manager", "site_id": "S0001"})
    directory.upsert("person", {"_id": "SM0", "name": "Old Manager", "role": "site_manager", "site_id": "S0001"})
    directory.people.update_one({"_id": "SM0"}, {"$set": {"active": False}})
    settings_page = client.get("/how-i-like-it").get_data(as_text=True)
    assert 'href="/stop-my-link"' in settings_page and 'value="link"' not in settings_page  # one press never stops it
    asked = client.get("/stop-my-link").get_data(as_text=True)
    assert "Are you sure you want to stop your link?" in asked
    assert "talk to Sam Patel, the manager of your service" in asked and "Old Manager" not in asked
    assert 'value="link"' in asked and 'href="/how-i-like-it"' in asked  # yes, or keep it
    assert client.get(f"/s/{app.token}").status_code == 303  # asking stopped nothing


def test_stop_my_link_means_it_never_works_again(app, client):
    csrf = _csrf(client.get("/stop-my-link"))
    page = client.post("/sign-out", data={"csrf_token": csrf, "stop": "link"})
    assert "will not work again" in page.get_data(as_text=True)
    assert client.get(f"/s/{app.token}").status_code == 404
    with app.test_client() as other:  # the API refuses it too
        response = other.get("/api/v1/question-sets/current")
        assert response.status_code == 200
        refused = other.post("/api/v1/submissions", json={}, headers={"Authorization": f"Bearer {app.token}"})
        assert refused.status_code == 401


def test_the_service_worker_may_look_after_the_check_pages_only(app):
    """Offline reload of /check/app: the worker's scope is /check/, and it keeps only the page and its files."""
    with app.test_client() as anonymous:
        response = anonymous.get("/static/sw.js")
        assert response.status_code == 200 and "javascript" in response.content_type
        assert response.headers["Service-Worker-Allowed"] == "/check/"
        script = response.get_data(as_text=True)
        response.close()
    kept = re.search(r"var SHELL = \[([^\]]*)\]", script).group(1)
    assert sorted(re.findall(r'"([^"]+)"', kept)) == ["/check/app", "/static/checks.css", "/static/checks.js"]
    assert 'request.method !== "GET"' in script, "nothing sent is ever kept"


def test_signing_out_clears_what_the_browser_kept(client):
    csrf = _csrf(client.get("/how-i-like-it"))
    page = client.post("/sign-out", data={"csrf_token": csrf, "stop": "phone"})
    assert page.headers["Clear-Site-Data"] == '"cache"'
    assert "data-signed-out" in page.get_data(as_text=True), "checks.js empties the offline copy on this page"


def test_who_usually_answers_is_chosen_already(client):
    """A checker who always answers with a supporter finds that chosen; they can still change it."""
    page = client.get("/how-i-like-it")
    form = {"pictures": "symbols", "read_aloud": "on", "text_size": "normal", "per_screen": "one"}
    saved = client.post("/how-i-like-it", data={"csrf_token": _csrf(page), **form, "answered_by": "with_supporter"})
    assert saved.status_code == 303
    draft_id = _start(client)
    who = client.get(f"/check/{draft_id}/who").get_data(as_text=True)
    assert 'id="answered-by-with_supporter" name="answered_by" value="with_supporter" checked' in who
    assert 'value="with_supporter" checked' in client.get("/check/app").get_data(as_text=True)
    assert _answer(client, draft_id, "who", {"answered_by": "alone"}).status_code == 303
    assert 'id="answered-by" name="answered_by" value="alone" checked' in client.get(f"/check/{draft_id}/who").get_data(
        as_text=True
    )


def test_whether_the_manager_may_see_the_name_is_asked_once_and_each_check_starts_from_it(client):
    page = client.get("/how-i-like-it")
    assert "Can the manager see your name?" in page.get_data(as_text=True)
    assert 'id="share_name" name="share_name" value="anonymous" checked' in page.get_data(as_text=True)
    form = {"pictures": "symbols", "read_aloud": "on", "text_size": "normal", "per_screen": "one"}
    saved = client.post("/how-i-like-it", data={"csrf_token": _csrf(page), **form, "share_name": "named"})
    assert saved.status_code == 303
    draft_id = _start(client)
    question = client.get(f"/check/{draft_id}/q-respect").get_data(as_text=True)
    assert re.search(r'data-name-when="named"\s*>', question) and re.search(
        r'data-name-when="anonymous"\s*hidden', question
    )
    assert 'id="name_share-named" name="name_share" value="named" checked' in client.get("/check/app").get_data(
        as_text=True
    ), "the page that works offline starts from the same choice"
    # Changed for this check only: the next check starts from How I like it again.
    assert _answer(client, draft_id, "your-name?from=q-respect", {"share": "anonymous"}).status_code == 303
    assert "Your name is kept private" in client.get(f"/check/{draft_id}/check").get_data(as_text=True)
    client.post(f"/check/{draft_id}/send", data={"csrf_token": _csrf(client.get("/"))})
    again = _start(client)
    assert "The manager can see your name" in client.get(f"/check/{again}/check").get_data(as_text=True)


def _send_a_whole_check(client, worry: str = "") -> str:
    draft_id = _start(client)
    _answer(client, draft_id, "who", {"answered_by": "with_supporter"})
    _answer(client, draft_id, "when", {"visited": "today"})
    for qid in QUESTIONS:
        comment = "They shout" if qid == "respect" else ""
        _answer(
            client, draft_id, f"q-{qid}", {f"score-{qid}": "1" if qid == "respect" else "3", f"comment-{qid}": comment}
        )
    _answer(client, draft_id, "working", {"items": "the garden"})
    _answer(client, draft_id, "not-working", {"items": ""})
    if worry:
        page = client.get(f"/check/{draft_id}/worried")
        client.post(f"/check/{draft_id}/worried", data={"csrf_token": _csrf(page), "concern": worry, "action": "save"})
    assert client.post(f"/check/{draft_id}/send", data={"csrf_token": _csrf(client.get("/"))}).status_code == 303
    return draft_id


def _card(page: str, submission_id: str) -> str:
    """One check's card on My checks: from its start to the next card's."""
    start = page.index(f'data-check="{submission_id}"')
    end = page.find("data-check=", start + 1)
    return page[start : end if end > 0 else len(page)]


def _not_counted(app, submission_id: str, *codes: str) -> None:
    """The validator's decision, written by its own store (the validator is not running in this tier)."""
    reasons = [{"code": code, "field": None, "message": f"Reason {code}."} for code in codes]
    submissions = app.extensions["qc.checks"].submissions
    received = {**wait_for(lambda: submissions.get(submission_id), 10, "the record"), "submission_id": submission_id}
    submissions.record_decision(received, "rejected", reasons, "R01")


def test_a_check_not_counted_for_its_date_is_changed_and_sent_again_with_its_answers(app, client, settings):
    old = _send_a_whole_check(client, worry="Someone took my money")
    _not_counted(app, old, "visit_in_future")
    card = _card(client.get("/my-checks").get_data(as_text=True), old)
    assert "Reason visit_in_future." in card and "Change it and send again" in card
    again = client.post(f"/my-checks/{old}/send-again", data={"csrf_token": _csrf(client.get("/"))})
    new = re.match(r"/check/([0-9a-f-]{36})/when\?return=check$", again.headers["Location"]).group(1)
    assert new != old, "a new check, with its own id"
    twice = client.post(f"/my-checks/{old}/send-again", data={"csrf_token": _csrf(client.get("/"))})
    assert twice.headers["Location"] == again.headers["Location"], "a second press opens the same new check"
    check = client.get(f"/check/{new}/check").get_data(as_text=True)
    assert "Me, with a supporter helping" in check and "They shout" in check and "the garden" in check
    # The worry reached the safeguarding lead with the rejection already: it is not raised twice.
    worried_row = check[check.index('data-row="worried"') :]
    assert "Someone took my money" not in check and "Nothing written" in worried_row
    assert _answer(client, new, "when?return=check", {"visited": "yesterday"}).headers["Location"].endswith("/check")
    assert client.post(f"/check/{new}/send", data={"csrf_token": _csrf(client.get("/"))}).status_code == 303
    events = read_topic(settings, TOPICS["received"], lambda evs: any(e["id"] == new for e in evs))
    [first] = [e["data"] for e in events if e["id"] == old]
    [sent] = [e["data"] for e in events if e["id"] == new]
    assert [(a["question_id"], a["score"], a["comment"]) for a in sent["answers"]] == [
        (a["question_id"], a["score"], a["comment"]) for a in first["answers"]
    ]
    assert sent["visited_on"] == (dt.date.today() - dt.timedelta(days=1)).isoformat()
    assert sent["urgent_concern"] is None and sent["working"] == ["the garden"]
    card = _card(client.get("/my-checks").get_data(as_text=True), old)
    assert "You changed this check and sent it again." in card and "Change it and send again" not in card
    refused = client.post(f"/my-checks/{old}/send-again", data={"csrf_token": _csrf(client.get("/"))})
    assert refused.status_code == 404, "sent again once"


def test_a_check_not_counted_for_a_reason_only_a_supporter_can_fix_is_not_offered_again(app, client):
    old = _send_a_whole_check(client)
    _not_counted(app, old, "visit_too_old", "checker_not_at_site")
    page = client.get("/my-checks").get_data(as_text=True)
    assert "Your supporter can help you with this." in _card(page, old)
    assert f"/my-checks/{old}/send-again" not in page
    refused = client.post(f"/my-checks/{old}/send-again", data={"csrf_token": _csrf(client.get("/"))})
    assert refused.status_code == 404
