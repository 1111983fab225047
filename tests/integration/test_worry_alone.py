"""A worry sent on its own, through the validator, notify and aggregate over the real broker and database.

It reaches the people who act on worries like any worry, and nothing counts it as a check: no roll-up,
no fact, no visit that would make the site look checked.
"""

from __future__ import annotations

import dataclasses

import pytest

from qc import auth, web
from qc.handler import Delivery
from qc.settings import TOPICS
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.rollups import RollupStore
from services.aggregate.worker import AggregateHandler
from services.checks.stores import submissions as checks_store
from services.notify.bootstrap import create_app as create_notify_app
from tests import builders

pytestmark = pytest.mark.integration
WORRY = "The fire door is locked at night"


def test_a_worry_alone_reaches_the_safeguarding_lead_and_is_not_counted(validator, db, settings, publisher):  # noqa: F811
    alone = builders.received(kind="worry", answers=[], urgent_concern=WORRY, urgent_concern_share="anonymous")
    builders.handle_received(validator, publisher, alone)
    [validated] = builders.published_decisions(settings, TOPICS["validated"], {alone["id"]})[alone["id"]]
    assert validated["data"]["kind"] == "worry" and validated["data"]["answers"] == []
    assert checks_store.decided(db, [alone["id"]])[alone["id"]]["status"] == "validated"

    notify = builders.notify_handler(db, settings, publisher)
    notify.handle([Delivery(record=None, event=validated)])
    [alert] = list(db["alerts"].find({"rule": "urgent_concern"}))
    assert alert["details"]["urgent_concern"] == WORRY and alert["submission_ids"] == [alone["id"]]
    assert alert["details"]["sent_alone"] is True
    inbox = create_notify_app(dataclasses.asdict(settings))
    try:
        client = inbox.test_client()
        principal = auth.Principal(username="sg1", role="safeguarding_lead")
        client.set_cookie(web.MANAGER_COOKIE, auth.issue_manager_token(settings.secret_key, principal))
        page = client.get(f"/manager/alerts/{alert['_id']}").get_data(as_text=True)
    finally:
        inbox.extensions["qc.close"]()
    assert WORRY in page and "data-sent-alone" in page and "From 1 check" not in page
    told = {d["person_id"]: d["status"] for d in db["deliveries"].find({"alert_id": alert["_id"]})}
    assert told == {"SM1": "sent", "RM1": "sent", "SG1": "sent"}
    assert all(not v["named"] for v in alert["voices"]), "anonymous, as the checker chose"
    assert db["alerts"].count_documents({}) == 1, "no other rule reads a worry as answers"
    # Not a visit: the overdue rule still counts from the last check.
    assert "last_visited_on" not in db["notify_sites"].find_one({"_id": "S0001"})

    store = RollupStore(db)
    store.ensure_indexes()
    AggregateHandler(store, SiteDirectory(db), publisher).handle([Delivery(record=None, event=validated)])
    assert store.facts.count_documents({}) == 0 and store.rollups.count_documents({}) == 0
    # A check next to it is counted as ever: the worry was left out, not the batch.
    check = builders.received()
    builders.handle_received(validator, publisher, check)
    [counted] = builders.published_decisions(settings, TOPICS["validated"], {check["id"]})[check["id"]]
    AggregateHandler(store, SiteDirectory(db), publisher).handle(
        [Delivery(record=None, event=e) for e in (validated, counted)]
    )
    assert [f["_id"] for f in store.facts.find()] == [check["id"]]


def test_a_rejected_worry_alone_still_reaches_the_safeguarding_lead_and_says_it_came_alone(
    validator,  # noqa: F811 (the fixture imported above)
    db,
    settings,
    publisher,
):
    stranger = builders.received(
        kind="worry", answers=[], urgent_concern=WORRY, checker_id="C404"
    )  # not a known checker
    builders.handle_received(validator, publisher, stranger)
    [rejected] = builders.published_decisions(settings, TOPICS["rejected"], {stranger["id"]})[stranger["id"]]
    assert rejected["data"]["kind"] == "worry" and rejected["data"]["urgent_concern"] == WORRY
    notify = builders.notify_handler(db, settings, publisher)
    notify.handle([Delivery(record=None, event=rejected)])
    [alert] = list(db["alerts"].find({"rule": "urgent_concern"}))
    assert alert["details"]["sent_alone"] is True and alert["submission_ids"] == [stranger["id"]]


def test_a_worrys_id_cannot_be_worked_out_without_the_services_secret():
    from services.checks.web.worried import worry_id

    body = {"urgent_concern": WORRY, "urgent_concern_share": "anonymous", "answered_by": "alone"}
    ours = worry_id("secret one", "C1", "2026-12-03", body)
    assert ours == worry_id("secret one", "C1", "2026-12-03", dict(body)), "the same press twice: one worry"
    assert ours != worry_id("secret two", "C1", "2026-12-03", body)
    assert ours != worry_id("secret one", "C1", "2026-12-03", {**body, "urgent_concern_share": "named"})
