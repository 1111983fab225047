"""A site's own link for the key questions: anyone supported there can answer them, not only its checker.

One link per site at a time, printed as a QR code for the site's board. A manager of the site makes it on
``/manager/sites/<site_id>/voice-link`` (voice_pages.py); making a new one stops the one before (a card
taken down, a link passed where it should not be). Only the token's hash is kept, as for checkers' links.
Who made or stopped a link, and when, is kept beside it.
"""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.database import Database

from qc import auth, events


class VoiceLinks:
    """The ``voice_links`` collection: each link made, its site, who made it and when it stopped."""

    def __init__(self, db: Database):
        self.collection = db["voice_links"]

    def ensure_indexes(self) -> None:
        """A site's links."""
        self.collection.create_index([("site_id", ASCENDING), ("created_at", ASCENDING)])

    def make(self, site_id: str, by: str) -> str:
        """A new link for the site (its token, shown once); the site's earlier links stop."""
        now = events.now()
        self.collection.update_many(
            {"site_id": site_id, "stopped_at": None}, {"$set": {"stopped_at": now, "stopped_by": by}}
        )
        token = auth.new_checker_token()
        self.collection.insert_one(
            {"_id": auth.hash_checker_token(token), "site_id": site_id, "created_at": now, "created_by": by}
            | {"stopped_at": None, "used_at": None}
        )
        return token

    def stop(self, site_id: str, by: str) -> int:
        """Stop the site's link; how many were live."""
        result = self.collection.update_many(
            {"site_id": site_id, "stopped_at": None}, {"$set": {"stopped_at": events.now(), "stopped_by": by}}
        )
        return result.modified_count

    def site_of(self, token: str) -> str | None:
        """The site a live link is for, or None (unknown or stopped)."""
        found = self.collection.find_one({"_id": auth.hash_checker_token(token), "stopped_at": None}, {"site_id": 1})
        return found["site_id"] if found else None

    def used(self, token: str) -> None:
        """When it was last used to send answers (the managers' page says so)."""
        self.collection.update_one({"_id": auth.hash_checker_token(token)}, {"$set": {"used_at": events.now()}})

    def history(self, site_id: str, limit: int = 10) -> list[dict]:
        """The site's links, the newest first."""
        return list(self.collection.find({"site_id": site_id}, sort=[("created_at", -1)], limit=limit))
