"""notify stores a batch's new alerts together at its end, over the real database: nothing lost, nothing twice.

A new alert that is not a worry is held in memory while its batch is handled (later checks of the batch
join it there) and inserted with the others in one round trip, after its deliveries, marked routed.
"""

from __future__ import annotations

import pytest
from pymongo.errors import AutoReconnect

from services.notify.rules import alerts as alert_rules
from services.notify.stores import alerts as alert_store
from tests import builders

pytestmark = pytest.mark.integration


def _inserts(db) -> int:
    """Insert commands the database has answered on this test's ``alerts`` collection (MongoDB's ``top``)."""
    totals = db.client.admin.command("top")["totals"]
    return totals.get(f"{db.name}.alerts", {}).get("insert", {}).get("count", 0)


def _checks():
    """Three sites of R01 with a safety answer 'not good', and a second such check at the first site."""
    first = [builders.validated(site=site) for site in ("S0001", "S0002", "S0003")]
    return first + [builders.validated(site="S0001", checker_id="C2")]


def test_a_batchs_new_alerts_are_inserted_together_joined_and_routed(db, publisher, settings):
    handler = builders.notify_handler(db, settings, publisher)
    checks = _checks()
    before = _inserts(db)
    handler.handle(builders.deliveries(*checks))
    assert _inserts(db) - before == 1  # three new alerts, one insert
    alerts = {a["site_id"]: a for a in db["alerts"].find({"rule": "safety_not_good"})}
    assert sorted(alerts) == ["S0001", "S0002", "S0003"]
    # The fourth check joined the first site's alert while it was held, before it was stored.
    s1 = [c["data"]["submission_id"] for c in checks if c["data"]["site_id"] == "S0001"]
    assert alerts["S0001"]["submission_ids"] == s1 and alerts["S0001"]["checker_ids"] == ["C1", "C2"]
    # Stored as routed, with their deliveries: no second write to mark them, nothing left for the sweep.
    assert all(a["routed"] for a in alerts.values())
    assert handler.store.unrouted() == []
    for alert in alerts.values():
        people = {d["person_id"] for d in db["deliveries"].find({"alert_id": alert["_id"]})}
        assert "RM1" in people, alert["site_id"]


def test_a_batch_that_fails_before_its_alerts_are_stored_is_delivered_again_without_doubles(
    db, publisher, settings, monkeypatch
):
    """Deliveries recorded, then the database goes away before the alerts are stored: the batch fails,
    and its redelivery stores every alert once, routed, with each delivery recorded once."""
    handler = builders.notify_handler(db, settings, publisher)
    batch = builders.deliveries(*_checks())
    real = alert_store.write_unordered
    failing = {"left": 1}

    def down_once(collection, writes):
        if collection.name == "alerts" and failing["left"]:
            failing["left"] -= 1
            raise AutoReconnect("database went away")
        return real(collection, writes)

    monkeypatch.setattr(alert_store, "write_unordered", down_once)
    with pytest.raises(AutoReconnect):
        handler.handle(batch)
    assert db["alerts"].count_documents({}) == 0 and db["deliveries"].count_documents({}) > 0
    handler.handle(batch)
    alerts = list(db["alerts"].find({"rule": "safety_not_good"}))
    assert len(alerts) == 3 and all(a["routed"] for a in alerts)
    ids = [d["_id"] for d in db["deliveries"].find()]
    assert len(ids) == len(set(ids))
    handler.handle(batch)  # delivered a third time: found stored, joined by id, nothing new
    assert db["alerts"].count_documents({"rule": "safety_not_good"}) == 3
    assert [d["_id"] for d in db["deliveries"].find()] == ids


def test_a_worry_is_stored_at_once_not_held(db, publisher, settings, monkeypatch):
    """A safeguarding alert never waits for the end of its batch."""
    handler = builders.notify_handler(db, settings, publisher)
    seen = []
    real_announce = handler.announce_and_route

    def announce(alert, correlation_id):
        if alert["rule"] == "urgent_concern":
            seen.append(db["alerts"].find_one({"_id": alert["_id"]}) is not None)
        return real_announce(alert, correlation_id)

    monkeypatch.setattr(handler, "announce_and_route", announce)
    handler.handle(builders.deliveries(builders.validated(urgent_concern="Someone hurt me")))
    assert seen == [True]


def test_an_alert_stored_first_by_another_worker_gets_what_the_batch_joined_to_it(db, settings):
    """A rebalance can give the same check to two workers: the second's held copy meets the stored one
    at insert, and the checks it joined are added to the stored alert, not lost."""
    rules = alert_rules.load_rules(settings.alert_rules_path)
    first, second = builders.validated(), builders.validated(checker_id="C2")
    [opener] = [c for c in alert_rules.evaluate(rules, first["data"]) if c.rule.id == "safety_not_good"]
    [joiner] = [c for c in alert_rules.evaluate(rules, second["data"]) if c.rule.id == "safety_not_good"]
    other_worker = alert_store.AlertStore(db)
    other_worker.raise_or_join(opener, {})  # stored, with the first check only
    store = alert_store.AlertStore(db)
    with store.held(set()):  # this worker read ahead before the other stored it
        open_now: dict = {}
        held, is_new = store.raise_or_join(opener, {}, open_now)
        assert is_new and db["alerts"].count_documents({}) == 1
        store.raise_or_join(joiner, {}, open_now)
    [stored] = list(db["alerts"].find())
    assert stored["_id"] == held["_id"]
    assert stored["submission_ids"] == [first["data"]["submission_id"], second["data"]["submission_id"]]
