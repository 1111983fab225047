"""notify/delivery/backoff.py on the real database: a failed attempt is recorded and the next one waits longer."""

from __future__ import annotations

import datetime as dt

import pytest

from qc import events
from services.notify.delivery.backoff import MAX_BACKOFF_SECONDS, backoff_seconds, mark_failed

pytestmark = pytest.mark.integration


def test_the_wait_doubles_from_ten_seconds_up_to_an_hour():
    assert [backoff_seconds(n) for n in range(1, 5)] == [10, 20, 40, 80]
    assert backoff_seconds(9) == 2560 and backoff_seconds(10) == backoff_seconds(40) == MAX_BACKOFF_SECONDS


@pytest.mark.parametrize("status,after", [("pending", "failed"), ("failed", "failed"), ("digest", "digest")])
def test_a_failed_attempt_is_counted_and_put_off(db, status, after):
    now = events.now()
    db["deliveries"].insert_one({"_id": "d1", "status": status, "attempts": 2, "next_attempt_at": now})
    delivery = db["deliveries"].find_one({"_id": "d1"})
    assert mark_failed(db["deliveries"], delivery, "SMTPServerDisconnected: " + "x" * 400, now) == 3
    stored = db["deliveries"].find_one({"_id": "d1"})
    assert (stored["status"], stored["attempts"]) == (after, 3)
    assert stored["last_error"].startswith("SMTPServerDisconnected: ") and len(stored["last_error"]) == 300
    # The database keeps milliseconds.
    assert abs(stored["next_attempt_at"].replace(tzinfo=now.tzinfo) - (now + dt.timedelta(seconds=40))) < dt.timedelta(
        milliseconds=1
    )


def test_a_batch_of_deliveries_is_recorded_once_each_in_one_insert(db):
    from services.notify.delivery.records import delivery_record, insert_new

    now = events.now()
    first = [
        delivery_record("a1", "alert", "email", ("person_id", p), f"{p}@example.org", "pending", now) for p in "xy"
    ]
    assert insert_new(db["deliveries"], first) == 2
    # A redelivered event plans the same two again, and one more: only the new one is recorded.
    again = first + [delivery_record("a1", "alert", "email", ("person_id", "z"), "z@example.org", "pending", now)]
    assert insert_new(db["deliveries"], [dict(r) for r in again]) == 1
    stored = sorted(d["_id"] for d in db["deliveries"].find({"alert_id": "a1"}))
    assert stored == ["a1:alert:email:x", "a1:alert:email:y", "a1:alert:email:z"]
    assert insert_new(db["deliveries"], []) == 0
