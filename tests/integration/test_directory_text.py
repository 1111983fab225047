"""A line break in a directory name or e-mail address cannot break e-mail or dead-letter a batch."""

from __future__ import annotations

import json
import os

import pytest

from services.checks.stores.directory import Directory
from tests import builders
from tests.conftest import mail_messages, run_qc, wait_for

pytestmark = pytest.mark.integration


def test_the_directory_import_refuses_line_breaks_and_addresses_that_are_not_addresses(stack, settings, tmp_path, db):
    raw = {
        "regions": [{"id": "R01", "name": "North"}],
        "sites": [{"id": "S0001", "name": "Elm Court\r\nBcc: everyone@example.org", "region_id": "R01"}],
        "people": [
            {"id": "SM1", "name": "Sam", "role": "site_manager", "site_id": "S0001", "email": "sam@x.org\nBcc: a@b"},
            {"id": "C1", "name": "Chris", "role": "checker", "site_id": "S0001", "supporter_email": "not an address"},
        ],
    }
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(raw))
    env = {**os.environ, **stack.env, "QC_MONGO_DB": settings.mongo_db}
    result = run_qc(env, "directory", "import", str(path), timeout=120)
    assert result.returncode == 2
    assert "nothing was imported" in result.stderr
    assert "sites[0] (S0001): 'name' has a line break or another control character" in result.stderr
    assert "people[0] (SM1): 'email' has a line break or another control character" in result.stderr
    assert "people[1] (C1): 'supporter_email' is not an e-mail address" in result.stderr
    assert Directory(db).is_empty() and db["people"].find_one() is None  # all or nothing


def test_the_mailer_survives_an_address_or_site_name_with_a_line_break(db, publisher, stack, settings):
    handler = builders.notify_handler(db, settings, publisher)
    tag = settings.mongo_db
    # As if published by something other than the import (an older directory): notify must survive it.
    handler.knowledge.apply_directory(
        {"entity": "site", "id": "S0001", "name": "Elm Court\r\nBcc: x@example.org", "region_id": "R01", "active": True}
    )
    handler.knowledge.apply_directory(
        {
            "entity": "person",
            "id": "SM1",
            "name": "SM1",
            "role": "site_manager",
            "site_id": "S0001",
            "region_id": "R01",
            "active": True,
            "email": f"sm1-{tag}@test\r\nBcc: attacker@example.org",
            "username": "sm1",
        }
    )
    handler.handle(builders.deliveries(builders.validated(urgent_concern="I am scared")))  # must not raise
    worry = db["alerts"].find_one({"rule": "urgent_concern"})
    told = {d["person_id"]: d for d in db["deliveries"].find({"alert_id": worry["_id"], "channel": "email"})}
    assert told["SM1"]["status"] == "failed" and "BadAddress" in told["SM1"]["last_error"]
    assert told["RM1"]["status"] == "sent" and told["SG1"]["status"] == "sent"
    mine = wait_for(
        lambda: [m for m in mail_messages(stack) if tag in m["To"] and "urgent" in m["Subject"].lower()], 10, "mail"
    )
    for mail in mine:
        assert "\n" not in mail["Subject"] and "\r" not in mail["Subject"]
        assert mail["Bcc"] is None and "attacker" not in mail.as_string()
