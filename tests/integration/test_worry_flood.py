"""Thirty worries in a minute from one checker are one alert and one round of e-mails; every word is kept."""

from __future__ import annotations

import dataclasses

import pytest

from qc import auth, web
from services.notify.bootstrap import create_app
from tests import builders

pytestmark = pytest.mark.integration


def _worry(n: int, second: int, checker="C1", site="S0001"):
    return builders.validated(
        checker_id=checker,
        site=site,
        urgent_concern=f"Worry number {n}",
        received_at=f"2026-11-10T10:{second // 60:02d}:{second % 60:02d}.000Z",
    )


def _emails(db, alert_id) -> list[str]:
    return sorted(d["person_id"] for d in db["deliveries"].find({"alert_id": alert_id, "channel": "email"}))


def test_a_flood_of_worries_from_one_checker_is_one_alert_with_every_word(db, settings, publisher):
    handler = builders.notify_handler(db, settings, publisher)
    flood = [_worry(n, 2 * n) for n in range(30)]  # thirty in one minute
    handler.handle(builders.deliveries(*flood[:10]))
    handler.handle(builders.deliveries(*flood[10:]))
    handler.handle(builders.deliveries(*flood[:5]))  # redelivered: nothing added twice
    [alert] = list(db["alerts"].find({"rule": "urgent_concern"}))
    assert alert["details"]["urgent_concern"] == "Worry number 0"
    assert sorted(m["text"] for m in alert["details"]["more_concerns"]) == sorted(
        f"Worry number {n}" for n in range(1, 30)
    )
    assert len(alert["submission_ids"]) == 30 and len(set(alert["submission_ids"])) == 30
    assert _emails(db, alert["_id"]) == ["RM1", "SG1", "SM1"]  # one round of e-mails, not thirty
    # Managers read every one of them on the alert's page.
    app = create_app(dataclasses.asdict(settings))
    try:
        client = app.test_client()
        token = auth.issue_manager_token(settings.secret_key, auth.Principal("sg1", "safeguarding_lead"))
        client.set_cookie(web.MANAGER_COOKIE, token)
        page = client.get(f"/manager/alerts/{alert['_id']}").get_data(as_text=True)
    finally:
        app.extensions["qc.close"]()
    assert all(f"Worry number {n}<" in page for n in range(30))


def test_worries_apart_in_time_or_from_others_or_after_closing_are_alerts_of_their_own(db, settings, publisher):
    handler = builders.notify_handler(db, settings, publisher)
    handler.handle(builders.deliveries(_worry(1, 0), _worry(2, 60 * 11)))  # eleven minutes apart
    handler.handle(builders.deliveries(_worry(3, 5, checker="C2")))  # another checker, same minutes
    first = db["alerts"].find_one({"details.urgent_concern": "Worry number 1"})
    handler.store.transition(first["_id"], ("open",), "resolved", "sg1", {"response": "Done."})
    handler.handle(builders.deliveries(_worry(4, 30)))  # within minutes of worry 1, but its alert is closed
    worries = {a["details"]["urgent_concern"] for a in db["alerts"].find({"rule": "urgent_concern"})}
    assert worries == {"Worry number 1", "Worry number 2", "Worry number 3", "Worry number 4"}
    for alert in db["alerts"].find({"rule": "urgent_concern"}):
        assert _emails(db, alert["_id"]) == ["RM1", "SG1", "SM1"], alert["details"]["urgent_concern"]
