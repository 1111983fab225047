"""MongoDB access: one client per process, built by the caller and passed in."""

from __future__ import annotations

from pymongo import MongoClient
from pymongo.database import Database

from qc.settings import Settings


def connect(settings: Settings, app_name: str) -> Database:
    """The ``qc`` database; the client connects lazily and fails fast when down."""
    client = MongoClient(
        settings.mongo_uri,
        appname=app_name,
        serverSelectionTimeoutMS=3000,
        connectTimeoutMS=3000,
        tz_aware=True,
    )
    return client[settings.mongo_db]


def ping(db: Database) -> None:
    """Raise if the server cannot be reached."""
    db.client.admin.command("ping")
