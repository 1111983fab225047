"""Fixtures shared by the integration tests: a database of the test's own, and a real producer."""

from __future__ import annotations

import pytest

from qc import mongo
from qc.kafka import Publisher, make_producer


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
