"""Everyone supported is heard: the key questions through a site's own link, through the real broker and database.

A site manager makes the site's link (a card with a QR code for the board); anyone there answers the key
questions on one page without a name; the answers are a ``kind: voice`` submission that the validator
accepts without a checker (and never as a duplicate), that staff team feedback counts as one more person
each (the minimum group size still withholds), that no roll-up counts, and that raises no alert but its
worry, which reaches the safeguarding lead. Its sites have ids of their own: the events go to the shared
broker, which the end-to-end tier's services read too.
"""

from __future__ import annotations

import dataclasses
import re
import time

import pytest

from qc import events, periods, rate_limited
from qc.handler import Delivery
from qc.ratelimit import RateLimiter
from qc.settings import TOPICS
from services.aggregate.bootstrap import create_app as aggregate_app
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.rollups import RollupStore
from services.aggregate.worker import AggregateHandler
from services.checks.bootstrap import create_app as checks_app
from services.checks.stores.directory import Directory
from services.checks.stores.submissions import Submissions
from services.checks.worker import ChecksHandler
from tests import builders
from tests.conftest import csrf_of, manager_client, read_topic

pytestmark = pytest.mark.integration
SM = {"username": "sm9601", "role": "site_manager", "region_id": "R96", "site_id": "S9601"}
KEY_QUESTIONS = ("listened-to", "respect")


@pytest.fixture
def world(settings, db, publisher):
    directory = Directory(db)
    directory.upsert("region", {"_id": "R96", "name": "West", "active": True})
    for site in ("S9601", "S9602"):
        directory.upsert("site", {"_id": site, "name": f"Ash House {site[-1]}", "region_id": "R96", "active": True})
    Submissions(db).ensure_indexes()
    app = checks_app({**dataclasses.asdict(settings), "rate_limit_voices_per_site_per_minute": 4})
    yield app, directory
    app.extensions["qc.close"]()


def _new_link(settings, app, who=SM) -> str:
    manager = manager_client(app, settings, **who)
    page = manager.get("/manager/sites/S9601/voice-link")
    made = manager.post("/manager/sites/S9601/voice-link/new", data={"csrf_token": csrf_of(page)})
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    body = made.get_data(as_text=True)
    assert "data-link-card" in body and "<svg" in body  # the card for the board, with its QR code
    return re.search(r"/v/([A-Za-z0-9_-]+)</code>", body).group(1)


def _answer(phone, token: str, **form):
    return phone.post(f"/v/{token}", data=form)


def _decided(settings, db, publisher, sent_ids: set[str]) -> list[dict]:
    """Read the voices from the received topic, decide them as the checks worker does; their validated events."""
    received = read_topic(
        settings, TOPICS["received"], lambda evs: sent_ids <= {e["data"]["submission_id"] for e in evs}
    )
    mine = [e for e in received if e["data"]["submission_id"] in sent_ids]
    for event in mine:
        events.validate(event, schemas_dir=settings.schemas_dir)
        assert event["data"]["kind"] == "voice" and event["data"]["checker_id"] == "voice:S9601"
    ChecksHandler(settings, db, publisher).handle([Delivery(record=None, event=e) for e in mine])
    out = read_topic(settings, TOPICS["validated"], lambda evs: sent_ids <= {e["data"]["submission_id"] for e in evs})
    return [e for e in out if e["data"]["submission_id"] in sent_ids]


def test_anyone_at_a_site_answers_the_key_questions_and_team_feedback_counts_them(settings, db, publisher, world):
    app, _directory = world
    token = _new_link(settings, app)
    phone = app.test_client()
    page = phone.get(f"/v/{token}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    assert "Tell us what you think about Ash House 1" in body and "You do not give your name" in body
    assert all(f'name="score-{q}"' in body for q in KEY_QUESTIONS) and 'name="comment-' not in body

    empty = _answer(phone, token)
    assert empty.status_code == 400 and "Please choose an answer to at least one" in empty.get_data(as_text=True)
    sent = set()
    for _ in range(3):  # three people give the same answers on the same day: three voices, none a duplicate
        chosen = {"score-listened-to": "3", "score-respect": "1", "answered_by": "with_supporter"}
        done = _answer(phone, token, **chosen)
        assert done.status_code == 303 and "/thanks" in done.headers["Location"]
        sent |= {r["_id"] for r in db["submissions"].find({"checker_id": "voice:S9601"}, {"_id": 1})}
    validated = _decided(settings, db, publisher, sent)
    assert len(validated) == 3 and all(e["type"] == "org.qc.submission.validated" for e in validated)

    # aggregate: team feedback counts three more people; no roll-up counts a voice as a check.
    sites = SiteDirectory(db)
    sites.apply({"entity": "site", "id": "S9601", "name": "Ash House 1", "region_id": "R96", "active": True})
    store = RollupStore(db)
    store.ensure_indexes()
    AggregateHandler(store, sites, publisher=None).handle([Delivery(record=None, event=e) for e in validated])
    month = periods.current("month", events.now().date())
    assert store.rollup("site", "S9601", month) is None
    reports = aggregate_app({**dataclasses.asdict(settings), "team_feedback_min_answers": 3})
    try:
        feedback = manager_client(reports, settings, **SM).get(f"/api/v1/sites/S9601/team-feedback?period={month}").json
    finally:
        reports.extensions["qc.close"]()
    cells = {q["id"]: q["month"] for q in feedback["questions"]}
    assert cells["listened-to"]["shown"] and cells["listened-to"]["good"] == 3
    assert cells["respect"]["not_good"] == 3

    # notify: three "not good" answers to a safety question raise nothing; a worry does, anonymously.
    notify = builders.notify_handler(db, settings, publisher)
    notify.handle([Delivery(record=None, event=e) for e in validated])
    assert notify.store.alerts.count_documents({"site_id": "S9601"}) == 0
    worried = _answer(phone, token, **{"worry": "Someone takes my money"})
    assert worried.status_code == 303 and "worry=1" in worried.headers["Location"]
    thanks = phone.get(worried.headers["Location"]).get_data(as_text=True)
    assert "The safeguarding lead will read what is worrying you" in thanks
    new_id = {r["_id"] for r in db["submissions"].find({"checker_id": "voice:S9601"}, {"_id": 1})} - sent
    [worry] = _decided(settings, db, publisher, new_id)
    notify.handle([Delivery(record=None, event=worry)])
    [alert] = list(notify.store.alerts.find({"site_id": "S9601"}))
    assert alert["summary"] == "Someone supported here raised an urgent concern." and alert["safeguarding"]


def test_a_new_link_stops_the_old_one_and_only_the_sites_managers_make_it(settings, world):
    app, _directory = world
    first = _new_link(settings, app)
    second = _new_link(settings, app)
    phone = app.test_client()
    assert phone.get(f"/v/{first}").status_code == 404 and phone.get(f"/v/{second}").status_code == 200
    page = manager_client(app, settings, **SM).get("/manager/sites/S9601/voice-link").get_data(as_text=True)
    assert "data-live-link" in page and page.count("made by sm9601") == 2 and "stopped on" in page
    other = {"username": "sm9602", "role": "site_manager", "region_id": "R96", "site_id": "S9602"}
    assert manager_client(app, settings, **other).get("/manager/sites/S9601/voice-link").status_code == 404
    manager = manager_client(app, settings, **SM)  # one session: its page's CSRF token is bound to it
    stop_page = manager.get("/manager/sites/S9601/voice-link")
    stopped = manager.post("/manager/sites/S9601/voice-link/stop", data={"csrf_token": csrf_of(stop_page)})
    assert stopped.status_code == 303 and phone.get(f"/v/{second}").status_code == 404


def test_a_sites_link_is_limited_per_site(settings, db, world):
    app, _directory = world
    # One minute's window whatever the clock says meanwhile: the count cannot start again mid-test.
    still = time.time()
    app.extensions[rate_limited.EXTENSION] = RateLimiter(db, settings.secret_key, clock=lambda: still)
    token = _new_link(settings, app)
    phone = app.test_client()
    answers = {"score-listened-to": "2"}
    statuses = [_answer(phone, token, **answers).status_code for _ in range(5)]
    assert statuses[:4] == [303] * 4 and statuses[4] == 429


def test_a_worry_through_a_link_whose_site_has_stopped_still_reaches_the_safeguarding_lead(settings, db, publisher):
    sent = builders.received(
        "S9699",  # no longer (or never) in the directory: the voice is turned back, its worry is not
        checker_id="voice:S9699",
        kind="voice",
        answers=[{"question_id": "respect", "score": None, "comment": ""}],
        urgent_concern="Someone takes my money",
        urgent_concern_share="anonymous",
    )
    Submissions(db).ensure_indexes()
    ChecksHandler(settings, db, publisher).handle([Delivery(record=None, event=sent)])
    found = read_topic(
        settings, TOPICS["rejected"], lambda evs: any(e["data"]["submission_id"] == sent["id"] for e in evs)
    )
    [rejected] = [e for e in found if e["data"]["submission_id"] == sent["id"]]
    events.validate(rejected, schemas_dir=settings.schemas_dir)
    assert rejected["data"]["kind"] == "voice"
    notify = builders.notify_handler(db, settings, publisher)
    notify.handle([Delivery(record=None, event=rejected)])
    [alert] = list(notify.store.alerts.find({"site_id": "S9699"}))
    assert alert["summary"] == "Someone supported here raised an urgent concern."
    assert db["notify_rejections"].count_documents({"checker_id": "voice:S9699"}) == 0  # not a checker to help
