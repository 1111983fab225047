"""A worry inside a check the validator turns back still reaches the people who act on worries."""

from __future__ import annotations

import pytest

from qc import events
from qc.handler import Delivery
from qc.settings import TOPICS
from tests import builders
from tests.conftest import read_topic

pytestmark = pytest.mark.integration
WORRY = "Staff lock me in my room at night"


def test_a_rejected_check_carries_its_worry_and_notify_raises_it(validator, db, settings, publisher):  # noqa: F811
    # The visit date is in the future: the check is turned back, the worry must not be.
    future = builders.received(
        visited_on="2999-01-01", urgent_concern=WORRY, urgent_concern_share="anonymous", answered_by="alone"
    )
    plain = builders.received(site_id="S9999")  # rejected too, with no worry: it carries none
    worried = builders.received(urgent_concern=WORRY)
    builders.handle_received(validator, publisher, future, plain, worried)
    again = builders.copy_of(worried)  # a duplicate: its worry was raised with the check it repeats
    builders.handle_received(validator, publisher, again)
    rejected = builders.published_decisions(settings, TOPICS["rejected"], {future["id"], plain["id"], again["id"]})
    assert [r["code"] for r in rejected[again["id"]][0]["data"]["reasons"]] == ["duplicate"]
    assert "urgent_concern" not in rejected[again["id"]][0]["data"]
    event = rejected[future["id"]][0]
    events.validate(event, schemas_dir=settings.schemas_dir)
    assert event["data"]["urgent_concern"] == WORRY and event["data"]["urgent_concern_share"] == "anonymous"
    assert "urgent_concern" not in rejected[plain["id"]][0]["data"]

    notify = builders.notify_handler(db, settings, publisher)
    notify.handle([Delivery(record=None, event=e) for e in (event, event)])  # redelivered: one alert
    [worry] = list(db["alerts"].find({"rule": "urgent_concern"}))
    assert worry["details"]["urgent_concern"] == WORRY and worry["safeguarding"] is True
    assert worry["submission_ids"] == [future["id"]] and worry["site_id"] == "S0001"
    told = {d["person_id"]: d["status"] for d in db["deliveries"].find({"alert_id": worry["_id"]})}
    assert told == {"SM1": "sent", "RM1": "sent", "SG1": "sent"}
    # Anonymous as the checker chose: no name in what managers see.
    assert all(not v["named"] for v in worry["voices"])


def test_a_worry_about_an_unknown_site_still_reaches_the_safeguarding_lead(db, settings, publisher):
    data = {
        "submission_id": "6a1f0c1e-1111-4222-8333-444455556666",
        "checker_id": "C1",
        "site_id": "S9999",
        "region_id": None,
        "received_at": events.isoformat(events.now()),
        "rejected_at": events.isoformat(events.now()),
        "reasons": [{"code": "site_unknown", "field": "site_id", "message": "x"}],
        "urgent_concern": WORRY,
    }
    event = events.make_event("org.qc.submission.rejected", source="t", subject=data["submission_id"], data=data)
    events.validate(event, schemas_dir=settings.schemas_dir)
    notify = builders.notify_handler(db, settings, publisher)
    notify.handle([Delivery(record=None, event=event)])
    worry = db["alerts"].find_one({"rule": "urgent_concern"})
    told = {d["person_id"]: d["status"] for d in db["deliveries"].find({"alert_id": worry["_id"]})}
    assert told == {"SG1": "sent"}
    # Its alert.raised says it has no region, and is still an event every consumer accepts (not a dead letter).
    raised = read_topic(settings, TOPICS["alerts"], lambda evs: any(e["data"]["alert_id"] == worry["_id"] for e in evs))
    [event] = [e for e in raised if e["data"]["alert_id"] == worry["_id"]]
    assert event["data"]["region_id"] is None
    events.validate(event, schemas_dir=settings.schemas_dir)
