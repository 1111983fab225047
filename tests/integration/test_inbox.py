"""notify's API and inbox pages over the real broker and database: silences, delivery log, forms with CSRF."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from qc import auth, events, web
from services.notify.bootstrap import create_app
from tests import builders

pytestmark = pytest.mark.integration


@pytest.fixture
def app(settings, db, publisher):
    handler = builders.notify_handler(db, settings, publisher)
    # The checker shared their name for the answer behind the alert: a supporter may hear how it ended
    # (an anonymous one, or a worry, never reaches the supporter: test_notify_consent.py).
    named = [
        {"question_id": q, "score": sc, "comment": "", "safety": q == "feel-safe", "share": "named"}
        for q, sc in (("listened-to", 3), ("feel-safe", 1), ("home-clean", None))
    ]
    handler.handle(builders.deliveries(builders.validated(answers=named)))
    application = create_app(dataclasses.asdict(settings))
    yield application
    application.extensions["qc.close"]()


def _token(settings, **principal):
    return auth.issue_manager_token(settings.secret_key, auth.Principal(**principal))


def test_a_regional_manager_can_only_silence_their_own_region(app, settings):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {_token(settings, username='rm1', role='regional_manager', region_id='R01')}"}
    ends = events.isoformat(events.now() + dt.timedelta(days=2))
    made = client.post(
        "/api/v1/silences",
        headers=headers,
        json={"matchers": {"region_id": "R09", "rule": "low_score"}, "ends_at": ends, "reason": "works"},
    )
    assert made.status_code == 201 and made.json["matchers"] == {"region_id": "R01", "rule": "low_score"}
    no_reason = client.post(
        "/api/v1/silences", headers=headers, json={"matchers": {"rule": "low_score"}, "ends_at": ends, "reason": " "}
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.json["detail"]
    assert [s["id"] for s in client.get("/api/v1/silences", headers=headers).json["silences"]] == [made.json["id"]]
    assert client.delete(f"/api/v1/silences/{made.json['id']}", headers=headers).json["ended_by"] == "rm1"


def test_delivery_log_and_scoping(app, settings):
    client = app.test_client()
    rm = {"Authorization": f"Bearer {_token(settings, username='rm1', role='regional_manager', region_id='R01')}"}
    other = {"Authorization": f"Bearer {_token(settings, username='rm2', role='regional_manager', region_id='R02')}"}
    [alert] = client.get("/api/v1/alerts", headers=rm).json["alerts"]
    log = client.get(f"/api/v1/alerts/{alert['id']}/deliveries", headers=rm).json["deliveries"]
    assert {(d["to"], d["status"]) for d in log} == {("SM1", "sent"), ("RM1", "sent")}
    assert client.get(f"/api/v1/alerts/{alert['id']}/deliveries", headers=other).status_code == 404
    assert client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=other).status_code == 404


def test_inbox_page_acknowledge_and_resolve_with_csrf(app, settings):
    client = app.test_client()
    session = _token(settings, username="sm1", role="site_manager", region_id="R01", site_id="S0001")
    assert client.get("/manager/alerts").status_code == 303  # no session: to sign-in
    client.set_cookie(web.MANAGER_COOKIE, session)
    inbox = client.get("/manager/alerts").get_data(as_text=True)
    alert_id = re.search(r'data-alert="([^"]+)"', inbox).group(1)
    page = client.get(f"/manager/alerts/{alert_id}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(f"/manager/alerts/{alert_id}/acknowledge", data={"csrf_token": "forged"}).status_code == 400
    assert client.post(f"/manager/alerts/{alert_id}/acknowledge", data={"csrf_token": csrf}).status_code == 303
    empty = client.post(f"/manager/alerts/{alert_id}/resolve", data={"csrf_token": csrf, "response": ""})
    assert empty.headers["Location"].endswith("?error=422")
    client.post(f"/manager/alerts/{alert_id}/resolve", data={"csrf_token": csrf, "response": "We fixed the lock."})
    done = client.get(f"/manager/alerts/{alert_id}").get_data(as_text=True)
    assert "We fixed the lock." in done and "resolved by sm1" in done


@pytest.mark.parametrize("site_says_tell", [True, False])
def test_resolving_tells_the_checkers_supporter_only_where_the_site_chose_it(
    settings,
    db,
    publisher,
    stack,
    site_says_tell,
):
    from tests.conftest import mail_messages, wait_for

    handler = builders.notify_handler(db, settings, publisher)
    handler.knowledge.apply_directory(
        {
            "entity": "site",
            "id": "S0001",
            "name": "Elm Court",
            "region_id": "R01",
            "active": True,
            "tell_supporters": site_says_tell,
        }
    )
    supporter = f"supporter-{settings.mongo_db}@test"
    handler.knowledge.apply_directory(
        {
            "entity": "person",
            "id": "C1",
            "name": "C1",
            "role": "checker",
            "site_id": "S0001",
            "active": True,
            "supporter_email": supporter,
        }
    )
    # The checker shared their name for the answer behind the alert: a supporter may hear how it ended
    # (an anonymous one, or a worry, never reaches the supporter: test_notify_consent.py).
    named = [
        {"question_id": q, "score": sc, "comment": "", "safety": q == "feel-safe", "share": "named"}
        for q, sc in (("listened-to", 3), ("feel-safe", 1), ("home-clean", None))
    ]
    handler.handle(builders.deliveries(builders.validated(answers=named)))
    application = create_app(dataclasses.asdict(settings))
    try:
        client = application.test_client()
        rm = {"Authorization": f"Bearer {_token(settings, username='rm1', role='regional_manager', region_id='R01')}"}
        [alert] = client.get("/api/v1/alerts", headers=rm).json["alerts"]
        assert "checker_ids" not in alert and "checker_id" not in alert  # not shown to managers
        assert db["alerts"].find_one({"_id": alert["id"]})["checker_ids"] == ["C1"]
        done = client.post(f"/api/v1/alerts/{alert['id']}/resolve", headers=rm, json={"response": "New locks fitted."})
        assert done.status_code == 200
    finally:
        application.extensions["qc.close"]()
    handler.tick()
    notes = list(db["deliveries"].find({"purpose": "response"}))
    if not site_says_tell:
        assert notes == []
        return
    assert [(n["address"], n["status"]) for n in notes] == [(supporter, "sent")]
    [mail] = wait_for(lambda: [m for m in mail_messages(stack) if m["To"] == supporter], 10, "the supporter's note")
    body = mail.get_body(("plain",)).get_content()
    assert "New locks fitted." in body and "Elm Court" in body
