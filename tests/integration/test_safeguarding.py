"""Safeguarding over the real database, broker and HTTP: who may quieten or close what is said about a site."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from qc import auth, events, web
from services.notify.bootstrap import create_app
from tests import builders

pytestmark = pytest.mark.integration
SM1 = {"username": "sm1", "role": "site_manager", "region_id": "R01", "site_id": "S0001"}
RM1 = {"username": "rm1", "role": "regional_manager", "region_id": "R01"}
SG1 = {"username": "sg1", "role": "safeguarding_lead"}


def _bearer(settings, **principal) -> dict:
    return {"Authorization": f"Bearer {auth.issue_manager_token(settings.secret_key, auth.Principal(**principal))}"}


@pytest.fixture
def notify(settings):
    app = create_app(dataclasses.asdict(settings))
    yield app
    app.extensions["qc.close"]()


def _silence(client, settings, who, **matchers):
    body = {
        "matchers": matchers,
        "ends_at": events.isoformat(events.now() + dt.timedelta(days=90)),
        "reason": "builders in",
    }
    return client.post("/api/v1/silences", json=body, headers=_bearer(settings, **who))


def _statuses(db, alert) -> dict[str, str]:
    return {d["person_id"]: d["status"] for d in db["deliveries"].find({"alert_id": alert["_id"], "channel": "email"})}


def test_a_site_manager_cannot_silence_safety_alerts_about_their_own_site(db, settings, publisher, notify):
    client = notify.test_client()
    refused = _silence(client, settings, SM1, rule="safety_not_good")
    assert refused.status_code == 403
    assert "regional manager" in refused.json["detail"]
    # A site-wide silence is allowed (building works), but it does not hold back safety alerts.
    made = _silence(client, settings, SM1)
    assert made.status_code == 201, made.json
    assert made.json["covers_safety"] is False
    handler = builders.notify_handler(db, settings, publisher)
    handler.handle(builders.deliveries(builders.validated()))  # "not good" to feel-safe
    alert = db["alerts"].find_one({"rule": "safety_not_good"})
    assert _statuses(db, alert) == {"SM1": "sent", "RM1": "sent"}
    # The regional manager, whose e-mails a site-wide silence also holds back, sees it.
    listed = client.get("/api/v1/silences", headers=_bearer(settings, **RM1)).json["silences"]
    assert [s["id"] for s in listed] == [made.json["id"]]
    assert listed[0]["matchers"] == {"site_id": "S0001", "region_id": "R01"}


def test_a_regional_managers_silence_may_hold_back_safety_alerts_and_the_site_manager_sees_it(
    db, settings, publisher, notify
):
    client = notify.test_client()
    made = _silence(client, settings, RM1, rule="safety_not_good")
    assert made.status_code == 201 and made.json["covers_safety"] is True
    handler = builders.notify_handler(db, settings, publisher)
    handler.handle(builders.deliveries(builders.validated()))
    alert = db["alerts"].find_one({"rule": "safety_not_good"})
    assert _statuses(db, alert) == {"SM1": "silenced", "RM1": "silenced"}
    seen = client.get("/api/v1/silences", headers=_bearer(settings, **SM1)).json["silences"]
    assert [s["id"] for s in seen] == [made.json["id"]]  # their e-mails are held back: they are told why
    # ...but it is not theirs to end.
    ended = client.delete(f"/api/v1/silences/{made.json['id']}", headers=_bearer(settings, **SM1))
    assert ended.status_code == 404


def test_a_worry_is_closed_by_the_regional_manager_or_safeguarding_lead_not_the_site_manager(
    db, settings, publisher, notify
):
    handler = builders.notify_handler(db, settings, publisher)
    handler.handle(builders.deliveries(builders.validated(urgent_concern="The manager shouts at us")))
    worry = db["alerts"].find_one({"rule": "urgent_concern"})
    client = notify.test_client()
    sm = _bearer(settings, **SM1)
    for action, body in (("acknowledge", None), ("resolve", {"response": "Sorted."})):
        refused = client.post(f"/api/v1/alerts/{worry['_id']}/{action}", json=body, headers=sm)
        assert refused.status_code == 403, action
        assert "safeguarding lead" in refused.json["detail"]
    assert db["alerts"].find_one({"_id": worry["_id"]})["status"] == "open"
    # The page offers the site manager no buttons, and says who closes it; a forged form is refused.
    client.set_cookie(web.MANAGER_COOKIE, sm["Authorization"].split()[1])
    page = client.get(f"/manager/alerts/{worry['_id']}").get_data(as_text=True)
    assert "The manager shouts at us" in page  # they can still read it and act
    assert "/acknowledge" not in page and "/resolve" not in page
    assert "safeguarding lead acknowledges and resolves" in page
    token = web.manager_csrf_token(settings, sm["Authorization"].split()[1])
    forged = client.post(f"/manager/alerts/{worry['_id']}/resolve", data={"csrf_token": token, "response": "x"})
    assert forged.status_code == 303 and "error=403" in forged.headers["Location"]
    assert db["alerts"].find_one({"_id": worry["_id"]})["status"] == "open"
    # The regional manager acknowledges; the safeguarding lead resolves.
    assert (
        client.post(f"/api/v1/alerts/{worry['_id']}/acknowledge", headers=_bearer(settings, **RM1)).status_code == 200
    )
    done = client.post(
        f"/api/v1/alerts/{worry['_id']}/resolve", json={"response": "We acted."}, headers=_bearer(settings, **SG1)
    )
    assert done.status_code == 200 and done.json["status"] == "resolved"
    # A safety alert that is not a worry stays the site manager's to close.
    safety = db["alerts"].find_one({"rule": "safety_not_good"})
    assert client.post(f"/api/v1/alerts/{safety['_id']}/acknowledge", headers=sm).status_code == 200
