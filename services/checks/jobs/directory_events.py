"""Telling the other services the directory: ``org.qc.directory.changed`` on the compacted ``qc.directory``.

One signed event per entity, keyed by its id, with its public fields only: secrets (password and
token hashes) never leave checks' collections.
"""

from __future__ import annotations

import datetime as dt
import logging

from qc import events, signing
from qc.kafka import PublishError
from qc.settings import TOPICS
from services.checks.stores.directory import Directory

log = logging.getLogger(__name__)
_PUBLIC_FIELDS = ("name", "region_id", "site_id", "role", "email", "username", "supporter_email", "tell_supporters")
_PUBLIC_FIELDS += ("links_reset_at", "tokens_valid_after")  # when links and sessions were stopped
_PUBLIC_FIELDS += ("check_interval",)  # how often a site (or a region's sites) should be checked


def directory_event(entity: str, doc: dict, *, secret_key: str, time: dt.datetime | None = None) -> dict:
    """The public ``org.qc.directory.changed`` event for one entity, signed (qc/signing.py)."""
    data = {"entity": entity, "id": doc["_id"], "active": bool(doc.get("active", True)), "name": doc.get("name", "")}
    for field in _PUBLIC_FIELDS[1:]:
        if field in doc:
            data[field] = events.isoformat(doc[field]) if isinstance(doc[field], dt.datetime) else doc[field]
    event = events.make_event(
        "org.qc.directory.changed",
        source="qc/checks/directory",
        subject=f"{entity}/{doc['_id']}",
        data=data,
        time=time,
    )
    return signing.sign(secret_key, event)


def publish_person(publisher, secret_key: str, person: dict, why: str) -> bool:
    """Tell the other services a person changed (access stopped), waiting for the broker; False if it could not.

    The change is stored already and stands here; the others learn it when the directory is next published.
    """
    try:
        publisher.publish_sync(
            TOPICS["directory"], person["_id"], directory_event("person", person, secret_key=secret_key)
        )
    except PublishError:
        log.warning("directory event not published", extra={"person": person["_id"], "why": why})
        return False
    return True


def publish_all(directory: Directory, publisher, secret_key: str) -> int:
    """Send every entity to ``qc.directory`` and wait for the acknowledgements."""
    count = 0
    for entity, doc in directory.all_entities():
        publisher.send(TOPICS["directory"], doc["_id"], directory_event(entity, doc, secret_key=secret_key))
        count += 1
    publisher.flush()
    return count
