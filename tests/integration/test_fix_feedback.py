"""Is it better now? The checker's answer, from My checks through qc.feedback to notify and aggregate."""

from __future__ import annotations

import dataclasses
import re
import uuid

import pytest

from qc import auth, events
from qc.settings import TOPICS
from services.aggregate.stores.fix_feedback import Feedback
from services.checks.bootstrap import create_app
from services.checks.stores.directory import Directory
from services.checks.stores.submissions import Submissions
from tests import builders
from tests.conftest import read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def checker_client(settings):
    app = create_app(dataclasses.asdict(settings))
    db = app.extensions["qc.checks"].db
    directory = Directory(db)
    directory.upsert("site", {"_id": "S0001", "name": "Oak House", "region_id": "R01", "active": True})
    directory.upsert("person", {"_id": "C1", "name": "C", "role": "checker", "site_id": "S0001", "active": True})
    token = auth.new_checker_token()
    directory.add_checker_token("C1", "S0001", auth.hash_checker_token(token))
    submission_id = str(uuid.uuid4())
    db["submissions"].insert_one(
        {
            "_id": submission_id,
            "checker_id": "C1",
            "site_id": "S0001",
            "region_id": "R01",
            "visited_on": "2026-11-20",
            "status": "validated",
            "reasons": [],
            "responses": [],
            "received_at": "2026-11-20T10:00:00.000Z",
            "content_hash": "0" * 64,
        }
    )
    Submissions(db).add_response(
        [submission_id],
        {"alert_id": "A1", "status": "resolved", "response": "We fixed the lock.", "at": "2026-11-21T10:00:00Z"},
    )
    with app.test_client() as client:
        client.get(f"/s/{token}")
        client.submission_id = submission_id
        yield client
    app.extensions["qc.close"]()


def test_the_checker_answers_and_the_answer_is_published_once(checker_client, settings):
    page = checker_client.get("/my-checks").get_data(as_text=True)
    assert "Is it better now?" in page and "We fixed the lock." in page
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)
    url = f"/my-checks/{checker_client.submission_id}/alerts/A1/better"
    assert checker_client.post(url, data={"csrf_token": "forged", "answer": "no"}).status_code == 400
    assert checker_client.post(url, data={"csrf_token": csrf, "answer": "maybe"}).status_code == 404
    assert checker_client.post(url, data={"csrf_token": csrf, "answer": "no"}).status_code == 303
    after = checker_client.get("/my-checks").get_data(as_text=True)
    assert 'data-feedback="no"' in after and "told the managers" in after and "Is it better now?" not in after
    feedback = read_topic(
        settings,
        TOPICS["feedback"],
        lambda evs: any(e["data"]["submission_id"] == checker_client.submission_id for e in evs),
    )
    [mine] = [e for e in feedback if e["data"]["submission_id"] == checker_client.submission_id]
    assert mine["data"]["answer"] == "no" and mine["data"]["region_id"] == "R01"
    events.validate(mine, schemas_dir=settings.schemas_dir)


def _feedback_event(alert_id, answer, at):
    data = {
        "alert_id": alert_id,
        "submission_id": str(uuid.uuid4()),
        "checker_id": "C1",
        "site_id": "S0001",
        "region_id": "R01",
        "answer": answer,
        "at": events.isoformat(at),
    }
    return events.make_event("org.qc.fix.feedback", source="t", subject=alert_id, data=data)


def test_not_better_reopens_the_alert_and_tells_the_managers_again(db, publisher, settings):
    import datetime as dt

    handler = builders.notify_handler(db, settings, publisher)
    handler.handle(builders.deliveries(builders.validated()))
    [alert] = list(handler.store.alerts.find())
    handler.store.transition(alert["_id"], ("open",), "resolved", "sm1", {"response": "Done"})
    before = events.now() - dt.timedelta(hours=1)
    handler.handle(builders.deliveries(_feedback_event(alert["_id"], "no", before)))  # answered before this resolution
    assert handler.store.get(alert["_id"])["status"] == "resolved"
    handler.handle(builders.deliveries(_feedback_event(alert["_id"], "better", events.now())))
    assert handler.store.get(alert["_id"])["status"] == "resolved"
    handler.handle(builders.deliveries(_feedback_event(alert["_id"], "no", events.now())))
    reopened = handler.store.get(alert["_id"])
    assert reopened["status"] == "open" and reopened["history"][-1]["by"] == "checker"
    notes = list(db["deliveries"].find({"purpose": {"$regex": "^reopened"}}))
    assert sorted(d["person_id"] for d in notes) == ["RM1", "SM1"] and {d["status"] for d in notes} == {"sent"}


def test_roll_ups_count_fixes_confirmed_partly_and_disputed(db):
    import datetime as dt

    feedback = Feedback(db)
    feedback.ensure_indexes()
    day = dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)
    for alert_id, answer in (("A1", "better"), ("A2", "a_bit"), ("A3", "no")):
        feedback.record(_feedback_event(alert_id, answer, day)["data"])
    feedback.record(_feedback_event("A3", "better", day + dt.timedelta(days=1))["data"])  # changed their mind
    feedback.record(_feedback_event("A1", "no", day - dt.timedelta(days=1))["data"])  # an older answer, late
    assert feedback.counts("site", "S0001", "2026-11") == {"confirmed": 2, "partly": 1, "disputed": 0}
    assert feedback.counts("region", "R01", "2026-Q4") == {"confirmed": 2, "partly": 1, "disputed": 0}
    assert feedback.counts("region", "R02", "2026-11") == {"confirmed": 0, "partly": 0, "disputed": 0}


def test_notify_keeps_each_checkers_latest_answer_for_the_board(db, publisher, settings):
    import datetime as dt

    handler = builders.notify_handler(db, settings, publisher)
    handler.handle(builders.deliveries(builders.validated()))
    [alert] = list(handler.store.alerts.find())
    handler.store.transition(alert["_id"], ("open",), "resolved", "sm1", {"response": "Done"})
    now = events.now()
    first = _feedback_event(alert["_id"], "a_bit", now - dt.timedelta(hours=2))
    handler.handle(builders.deliveries(first, first))  # redelivered: counted once
    handler.handle(builders.deliveries(_feedback_event(alert["_id"], "better", now)))  # changed their mind
    handler.handle(builders.deliveries(_feedback_event(alert["_id"], "no", now - dt.timedelta(hours=1))))  # older, late
    other = _feedback_event(alert["_id"], "a_bit", now)
    other["data"]["checker_id"] = "C2"
    handler.handle(builders.deliveries(other))
    assert handler.feedback.counts([alert["_id"]]) == {alert["_id"]: {"better": 1, "a_bit": 1}}
    assert handler.store.get(alert["_id"])["status"] == "resolved"  # the late "no" reopened nothing
