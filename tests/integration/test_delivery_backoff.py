"""services/notify/backoff.py on the real database: a failed attempt is recorded and the next one waits longer."""

from __future__ import annotations

import datetime as dt

import pytest

from qc import events
from services.notify.backoff import MAX_BACKOFF_SECONDS, backoff_seconds, mark_failed

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
