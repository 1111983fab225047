"""A delivery is a document before it is an e-mail or a webhook call, recorded once by an id that makes it once."""

from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from qc.mongo import write_unordered


def record_once(collection, record: dict) -> bool:
    """Insert one delivery record (see ``delivery_record``), once; True if it is new."""
    try:
        collection.insert_one(record)
    except DuplicateKeyError:
        return False
    return True


def delivery_record(
    alert_id: str,
    key: str,
    channel: str,
    recipient: tuple[str, str],
    address: str,
    status: str,
    now,
    purpose: str | None = None,
) -> dict:
    """The stored form of one delivery; its id (alert + key + channel + recipient) makes it happen once."""
    field, recipient_id = recipient
    return {
        "_id": f"{alert_id}:{key}:{channel}:{recipient_id}",
        "alert_id": alert_id,
        "purpose": purpose or key,
        "channel": channel,
        field: recipient_id,
        "address": address,
        "status": status,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
        "last_error": None,
    }


def insert_new(collection, records: list[dict]) -> int:
    """Insert deliveries in one round trip; those recorded before (same id) are skipped. How many were new."""
    return len(records) - len(write_unordered(collection, records))


def record_email(
    collection, alert_id: str, key: str, person_id: str, address: str, status: str, now, purpose: str | None = None
) -> bool:
    """Record one e-mail delivery, once (its id is alert + key + person); True if it is new."""
    record = delivery_record(alert_id, key, "email", ("person_id", person_id), address, status, now, purpose)
    return record_once(collection, record)
