"""The directory (regions, sites, people) that checks owns, and its events.

Other services learn the directory only from ``qc.directory`` events, keyed
by entity id on a compacted topic; secrets (password and token hashes) never
leave this module's collections.
"""

from __future__ import annotations

import datetime as dt

from pymongo import ASCENDING
from pymongo.database import Database

from qc import events
from qc.settings import TOPICS

MANAGER_ROLES = ("site_manager", "regional_manager", "org_admin", "safeguarding_lead")
_PUBLIC_FIELDS = ("name", "region_id", "site_id", "role", "email", "username", "supporter_email", "tell_supporters")


class Directory:
    """checks' collections: ``regions``, ``sites``, ``people``, ``checker_tokens``."""

    def __init__(self, db: Database):
        self.regions = db["regions"]
        self.sites = db["sites"]
        self.people = db["people"]
        self.tokens = db["checker_tokens"]

    def ensure_indexes(self) -> None:
        """Indexes the look-ups below rely on (idempotent)."""
        self.people.create_index([("username", ASCENDING)], unique=True, sparse=True)
        self.people.create_index([("site_id", ASCENDING), ("role", ASCENDING)])
        self.tokens.create_index([("checker_id", ASCENDING)])

    def is_empty(self) -> bool:
        """True before any site has been loaded."""
        return self.sites.find_one({}, {"_id": 1}) is None

    def site(self, site_id: str) -> dict | None:
        """One site, or None."""
        return self.sites.find_one({"_id": site_id})

    def person(self, person_id: str) -> dict | None:
        """One person, or None."""
        return self.people.find_one({"_id": person_id})

    def manager_by_username(self, username: str) -> dict | None:
        """An active manager's record (with password hash), or None."""
        return self.people.find_one({"username": username, "role": {"$in": list(MANAGER_ROLES)}, "active": True})

    def checker_for_token(self, token_hash: str) -> dict | None:
        """The live token record for a hashed checker token, or None.

        Read every time, never cached: a stopped link must stop in every web
        process at once (a lost phone). A per-process cache was measured and
        bought nothing visible (docs/benchmarks.md).
        """
        return self.tokens.find_one({"_id": token_hash, "revoked_at": None})

    def add_checker_token(self, checker_id: str, site_id: str, token_hash: str) -> None:
        """Store a new sign-in token (its hash only)."""
        self.tokens.insert_one(
            {
                "_id": token_hash,
                "checker_id": checker_id,
                "site_id": site_id,
                "created_at": events.now(),
                "revoked_at": None,
            }
        )

    def revoke_checker_tokens(self, checker_id: str, token_hash: str | None = None) -> int:
        """Stop a checker's sign-in links (one, or all of them); returns how many were stopped."""
        query = {"checker_id": checker_id, "revoked_at": None}
        if token_hash:
            query["_id"] = token_hash
        return self.tokens.update_many(query, {"$set": {"revoked_at": events.now()}}).modified_count

    def upsert(self, entity: str, doc: dict) -> None:
        """Create or replace one region, site or person."""
        collection = {"region": self.regions, "site": self.sites, "person": self.people}[entity]
        collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    def all_entities(self):
        """Every (entity, doc): regions first, so consumers meet parents first."""
        for entity, collection in (("region", self.regions), ("site", self.sites), ("person", self.people)):
            for doc in collection.find({}, sort=[("_id", ASCENDING)]):
                yield entity, doc


def directory_event(entity: str, doc: dict, *, time: dt.datetime | None = None) -> dict:
    """The public ``org.qc.directory.changed`` event for one entity."""
    data = {"entity": entity, "id": doc["_id"], "active": bool(doc.get("active", True)), "name": doc["name"]}
    for field in _PUBLIC_FIELDS[1:]:
        if field in doc:
            data[field] = doc[field]
    return events.make_event(
        "org.qc.directory.changed",
        source="qc/checks/directory",
        subject=f"{entity}/{doc['_id']}",
        data=data,
        time=time,
    )


def publish_all(directory: Directory, publisher) -> int:
    """Send every entity to ``qc.directory`` and wait for the acknowledgements."""
    count = 0
    for entity, doc in directory.all_entities():
        publisher.send(TOPICS["directory"], doc["_id"], directory_event(entity, doc))
        count += 1
    publisher.flush()
    return count
