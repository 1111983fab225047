"""The validator decides a poll's submissions together (one bulk write), with the same rules as one by one."""

from __future__ import annotations

import datetime as dt

import pytest

from qc import events, mongo
from qc.settings import TOPICS
from services.checks.stores import submissions as checks_store
from services.checks.stores.directory import Directory
from services.checks.stores.outbox import Outbox
from services.checks.stores.submissions import Submissions
from tests import builders
from tests.conftest import read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def handler(validator):
    return validator


def test_one_poll_is_decided_like_one_by_one(handler, db, settings, publisher):
    first = builders.received()
    same_again = builders.copy_of(first)  # the same check twice in one poll: the second is a duplicate
    unknown_site = builders.received(site_id="S9999", comment="other")
    store = Submissions(db)  # intake wrote its record first, as it does: claim, publish, mark accepted
    store.mark_accepted(store.claim(first["data"], first, "corr", stale_after=60))
    store.acks.write()
    builders.handle_received(handler, publisher, first, same_again, unknown_site)

    records = checks_store.decided(db)
    assert records[first["id"]]["status"] == "validated" and records[first["id"]]["decided_at"]
    assert records[same_again["id"]]["status"] == "rejected"
    assert [r["code"] for r in records[same_again["id"]]["reasons"]] == ["duplicate"]
    assert [r["code"] for r in records[unknown_site["id"]]["reasons"]] == ["site_unknown", "checker_not_at_site"]
    assert records[first["id"]]["correlation_id"] == "corr"  # intake's fields were kept
    kept = Outbox(db).kept_since(None)
    assert [d["event"] for d in kept if d["_id"] == first["id"]] == [first]  # and the outbox's (outbox.py)

    validated = builders.published_decisions(settings, TOPICS["validated"], {first["id"]})
    assert {e["id"] for e in validated[first["id"]]} == {f"{first['id']}:validated"}
    assert validated[first["id"]][0]["data"]["validated_at"] == events.isoformat(records[first["id"]]["decided_at"])
    rejected = builders.published_decisions(settings, TOPICS["rejected"], {same_again["id"], unknown_site["id"]})
    assert {e["id"] for e in rejected[unknown_site["id"]]} == {f"{unknown_site['id']}:rejected"}
    assert [r["code"] for r in rejected[same_again["id"]][0]["data"]["reasons"]] == ["duplicate"]


def test_a_redelivered_poll_keeps_the_first_decisions(handler, db, settings, publisher):
    first, later = builders.received(), builders.received(comment="later")
    builders.handle_received(handler, publisher, first)
    before = checks_store.decided(db)[first["id"]]
    # Redelivered with a copy of it and a new one: the first stands, the copy is a duplicate of it.
    copy = builders.copy_of(first)
    builders.handle_received(handler, publisher, later, first, copy, first)
    records = checks_store.decided(db)
    after = records[first["id"]]
    assert (after["status"], after["decided_at"]) == (before["status"], before["decided_at"])
    assert records[copy["id"]]["reasons"][0]["code"] == "duplicate"
    assert records[later["id"]]["status"] == "validated"
    decisions = read_topic(
        settings,
        TOPICS["validated"],
        lambda evs: sum(e["data"]["submission_id"] == first["id"] for e in evs) >= 3,
    )
    again = [e for e in decisions if e["data"]["submission_id"] == first["id"]]
    # Re-published unchanged (same event id and time), so consumers count it once.
    assert {(e["id"], e["data"]["validated_at"]) for e in again} == {
        (f"{first['id']}:validated", events.isoformat(before["decided_at"]))
    }


def test_a_decision_made_elsewhere_meanwhile_stands(handler, db, settings, publisher):
    """Two validators raced: the insert hits the other's decision, which is read back and re-published."""
    event = builders.received()
    Submissions(db).record_decision(event["data"], "rejected", [{"code": "x", "field": None, "message": "m"}], "R01")
    records = Submissions(db).record_decisions([(event["data"], "validated", [], "R01")])
    assert records[event["id"]]["status"] == "rejected"
    assert db["submissions"].count_documents({"_id": event["id"]}) == 1
    assert checks_store.decided(db)[event["id"]]["status"] == "rejected"


def test_an_unclaimed_check_gets_a_record_and_a_claimed_one_keeps_what_intake_wrote(handler, db, publisher):
    """A replay of the log meets no claim: its record is inserted with the decision in it; a claimed record is never
    rewritten (decisions.py). Either way a later decision for the same id (another member's, racing) does not
    replace the first."""
    unclaimed, claimed = builders.received(), builders.received(comment="claimed")
    claimed_at = dt.datetime(2026, 11, 10, 9, 30, tzinfo=dt.UTC)
    db["submissions"].insert_one({"_id": claimed["id"], "status": "sending", "kind": "check", "claimed_at": claimed_at})
    builders.handle_received(handler, publisher, unclaimed, claimed)
    records = checks_store.decided(db)
    whole = records[unclaimed["id"]]
    assert whole["status"] == "validated" and whole["checker_id"] == "C1" and whole["responses"] == []
    assert whole["visited_on"] == unclaimed["data"]["visited_on"] and whole["region_id"] == "R01"
    decided = records[claimed["id"]]
    assert decided["status"] == "validated" and decided["kind"] == "check" and decided["claimed_at"] == claimed_at
    assert db["submissions"].find_one({"_id": claimed["id"]})["status"] == "sending"  # the record as intake left it
    # The unclaimed one's decision is in its record (one insert); the claimed one's beside it.
    assert db["submissions"].find_one({"_id": unclaimed["id"]})["status"] == "validated"
    assert [d["_id"] for d in db["decisions"].find()] == [claimed["id"]]
    records = Submissions(db).record_decisions(
        [(unclaimed["data"], "rejected", [], "R01"), (claimed["data"], "rejected", [], "R01")], stored=set()
    )
    assert {records[unclaimed["id"]]["status"], records[claimed["id"]]["status"]} == {"validated"}
    assert {d["status"] for d in checks_store.decided(db).values()} == {"validated"}
    assert db["decisions"].count_documents({}) == 1  # the late decision on the replayed record was not written


def test_only_a_validated_check_with_the_same_checker_site_visit_and_content_is_a_duplicate(handler, db, publisher):
    """The poll's one query by content hash finds candidates; the rule's other fields still decide."""
    event = builders.received(comment="same words")
    data = event["data"]
    base = {f: data[f] for f in ("checker_id", "site_id", "visited_on", "content_hash", "received_at")}
    db["submissions"].insert_many(
        [
            {**base, "_id": "other-checker", "checker_id": "C2", "status": "validated"},
            {**base, "_id": "other-day", "visited_on": "2000-01-01", "status": "validated"},
            {**base, "_id": "rejected-before", "status": "rejected"},
        ]
    )
    builders.handle_received(handler, publisher, event)
    assert checks_store.decided(db)[data["submission_id"]]["status"] == "validated"
    # Now a validated one with the same key is stored: the next copy is its duplicate, from a later poll.
    copy = builders.copy_of(event)
    builders.handle_received(handler, publisher, copy)
    record = checks_store.decided(db)[copy["id"]]
    assert [r["code"] for r in record["reasons"]] == ["duplicate"]


def test_the_directory_held_in_memory_follows_changes_made_elsewhere(handler, db, settings, publisher):
    """The validator holds sites and checkers; a change made by another process reaches its next batch."""
    first = builders.received()
    builders.handle_received(handler, publisher, first)
    other_process = mongo.connect(settings, "qc-tests-other")
    try:
        Directory(other_process).upsert(
            "person", {"_id": "C1", "name": "C", "role": "checker", "site_id": "S0001", "active": False}
        )
    finally:
        other_process.client.close()
    later = builders.received(comment="later")
    builders.handle_received(handler, publisher, later)
    records = checks_store.decided(db)
    assert records[first["id"]]["status"] == "validated"
    assert records[later["id"]]["status"] == "rejected"
    assert [r["code"] for r in records[later["id"]]["reasons"]] == ["checker_unknown"]
