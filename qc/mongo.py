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
        # Bounded waits: with the database down an operation fails within
        # mongo_timeout_ms (ConnectionFailure), so web answers 503 and workers
        # back off, instead of hanging (pymongo's defaults: 30 s, and none).
        serverSelectionTimeoutMS=settings.mongo_timeout_ms,
        connectTimeoutMS=settings.mongo_timeout_ms,
        socketTimeoutMS=settings.mongo_socket_timeout_ms or None,
        tz_aware=True,
    )
    return client[settings.mongo_db]


def ping(db: Database) -> None:
    """Raise if the server cannot be reached."""
    db.client.admin.command("ping")
