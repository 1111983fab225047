"""A delivery (e-mail, digest or webhook) that failed: the attempt recorded, the next one later.

Kept as a visible ``failed`` record rather than dropped: the worker's
``send_due`` picks it up again once ``next_attempt_at`` has passed.
"""

from __future__ import annotations

import datetime as dt

MAX_BACKOFF_SECONDS = 3600


def backoff_seconds(attempts: int) -> int:
    """The wait after ``attempts`` failures: 10 s, 20 s, 40 s … doubling, at most an hour."""
    return min(2**attempts * 5, MAX_BACKOFF_SECONDS)


def mark_failed(collection, delivery: dict, error: str, now: dt.datetime) -> int:
    """Record one more failed attempt of ``delivery`` and when to try again; how many attempts it has had.

    A digest delivery stays ``digest`` (the next digest run retries it);
    anything else becomes ``failed``. ``error`` says why, with no message content.
    """
    attempts = delivery["attempts"] + 1
    collection.update_one(
        {"_id": delivery["_id"]},
        {
            "$set": {
                "status": "digest" if delivery["status"] == "digest" else "failed",
                "attempts": attempts,
                "last_error": error[:300],
                "next_attempt_at": now + dt.timedelta(seconds=backoff_seconds(attempts)),
            }
        },
    )
    return attempts
