"""Only the directory's owner may say who people are: an unsigned or forged directory event is dead-lettered."""

from __future__ import annotations

import threading
import uuid

import pytest
from kafka import KafkaProducer

from qc import events
from qc.consumer import ConsumerLoop
from qc.kafka import make_consumer
from qc.settings import TOPICS
from services.checks.jobs.directory_events import directory_event
from tests import builders
from tests.conftest import new_topic, read_topic, wait_for

pytestmark = pytest.mark.integration


def _lead(email: str) -> dict:
    return {"_id": "SG1", "name": "SG1", "role": "safeguarding_lead", "email": email, "username": "sg1", "active": True}


def test_a_forged_safeguarding_lead_is_dead_lettered_and_a_signed_change_applied(db, settings, publisher):
    handler = builders.notify_handler(db, settings, publisher)  # SG1 is sg1-<db>@test
    before = handler.knowledge.contacts.find_one({"_id": "SG1"})["email"]
    # Signed for one address, then changed in transit; not signed at all; signed with another key.
    forged = directory_event("person", _lead("lead@example.org"), secret_key=settings.secret_key)
    forged["data"]["email"] = "attacker@example.org"
    unsigned = {k: v for k, v in forged.items() if k != "qcsignature"}
    other_key = directory_event("person", _lead("attacker@example.org"), secret_key="k" * 40)
    signed = directory_event("person", _lead(f"new-lead-{settings.mongo_db}@test"), secret_key=settings.secret_key)

    topic = new_topic(settings, "qc.test.dir")
    raw = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    for event in (unsigned, other_key, forged, signed):
        events.validate(event, schemas_dir=settings.schemas_dir)  # all well-formed: only the signature differs
        raw.send(topic, key=b"SG1", value=events.encode(event)).get(timeout=10)
    raw.close()
    group = f"qc-test-{uuid.uuid4().hex[:6]}"
    handler.topics = [topic]  # this test's own topic, read by the real loop and notify's real handler
    loop = ConsumerLoop(settings, make_consumer(settings, group), group, handler, publisher)
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        wait_for(
            lambda: handler.knowledge.contacts.find_one({"_id": "SG1"})["email"] != before, 30, "the signed change"
        )
        dead = read_topic(
            settings, TOPICS["deadletter"], lambda evs: len([e for e in evs if e["data"]["topic"] == topic]) == 3
        )
    finally:
        loop.stop()
        thread.join(timeout=30)
    assert handler.knowledge.contacts.find_one({"_id": "SG1"})["email"] == f"new-lead-{settings.mongo_db}@test"
    reasons = [e["data"]["reason"] for e in dead if e["data"]["topic"] == topic]
    assert reasons == ["directory event without a valid signature: not applied"] * 3
