"""Fixtures shared by the integration tests: a database of the test's own, a real producer, a seeded checks app."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from qc import auth, mongo
from qc.kafka import Publisher, make_producer
from services.checks.bootstrap import create_app as create_checks_app
from services.checks.stores.directory import Directory
from services.checks.stores.submissions import Submissions
from services.checks.worker import ChecksHandler
from tests.integration.world import build_world


@pytest.fixture
def db(settings):
    """The test's own database on the session's server, dropped afterwards."""
    database = mongo.connect(settings, "qc-tests")
    yield database
    database.client.drop_database(settings.mongo_db)
    database.client.close()


@pytest.fixture
def publisher(settings):
    """A durable publisher to the session's broker."""
    p = Publisher(make_producer(settings, "qc-tests"), source="qc/tests", timeout=10)
    yield p
    p.flush()
    p.close()


@pytest.fixture
def checks_app(settings):
    """The checks service with region R01, site S0001 "Oak House" and checker C1, whose link token is ``.token``."""
    app = create_checks_app(dataclasses.asdict(settings))
    directory = Directory(app.extensions["qc.checks"].db)
    directory.upsert("region", {"_id": "R01", "name": "Region 1", "active": True})
    directory.upsert("site", {"_id": "S0001", "name": "Oak House", "region_id": "R01", "active": True})
    directory.upsert("person", {"_id": "C1", "name": "C", "role": "checker", "site_id": "S0001", "active": True})
    app.token = auth.new_checker_token()
    directory.add_checker_token("C1", "S0001", auth.hash_checker_token(app.token))
    yield app
    app.extensions["qc.close"]()


@pytest.fixture
def signed_in_client(checks_app):
    """A browser-like test client of ``checks_app``, signed in as checker C1 by their link."""
    with checks_app.test_client() as c:
        assert c.get(f"/s/{checks_app.token}").status_code == 303
        yield c


@pytest.fixture
def client(checks_app):
    """A test client of the seeded checks app; ``client.token`` is checker C1's bearer token."""
    with checks_app.test_client() as c:
        c.token = checks_app.token
        yield c


@pytest.fixture(scope="module")
def world(stack):
    """Three apps over one database of the module's own (tests/integration/world.py)."""
    w = build_world(stack.settings.replace(mongo_db=f"t_{uuid.uuid4().hex[:12]}"))
    yield w
    w.close()


@pytest.fixture
def validator(db, settings, publisher):
    """The validator's handler over a directory of region R01, site S0001 and checker C1."""
    directory = Directory(db)
    directory.upsert("region", {"_id": "R01", "name": "Region 1", "active": True})
    directory.upsert("site", {"_id": "S0001", "name": "Oak House", "region_id": "R01", "active": True})
    directory.upsert("person", {"_id": "C1", "name": "C", "role": "checker", "site_id": "S0001", "active": True})
    Submissions(db).ensure_indexes()
    return ChecksHandler(settings, db, publisher)
