"""The directory (regions, sites, people) that checks owns.

Other services learn the directory only from ``qc.directory`` events (jobs/directory_events.py),
keyed by entity id on a compacted topic; secrets (password and token hashes) never
leave this module's collections.
"""

from __future__ import annotations

import datetime as dt

from pymongo import ASCENDING
from pymongo.database import Database

from qc import auth, events
from qc.generations import Generation
from qc.mongo import find_in, update_and_read
from qc.settings import Settings
from services.checks.stores.token_table import TokenTable

MANAGER_ROLES = auth.ROLES  # every role that signs in as a manager (qc.auth)
# A link's last use is written at most this often: a day is exact enough for an idle limit in days
# and costs one write a day per checker, not one per request.
USE_RESOLUTION = dt.timedelta(days=1)


class Directory:
    """checks' collections: ``regions``, ``sites``, ``people``, ``checker_tokens``, ``checker_link_log``.

    Every change of a site or person bumps the ``directory`` generation and every stopped
    link the ``checker-link-stops`` one (qc.generations), so processes holding copies
    (token_table.py, ``HeldDirectory`` below) know to read again.

    ``link_idle_days``: a checker link not used for this many days stops working (0: never).
    """

    def __init__(self, db: Database, link_idle_days: int = 0):
        self.regions = db["regions"]
        self.sites = db["sites"]
        self.people = db["people"]
        self.tokens = db["checker_tokens"]
        self.link_log = db["checker_link_log"]
        self.link_idle_days = link_idle_days
        self.changes = Generation(db, "directory")
        self.token_table = TokenTable(self.tokens, Generation(db, "checker-link-stops"))

    @classmethod
    def for_settings(cls, settings: Settings, db: Database) -> Directory:
        """The directory as every part of checks reads it (the web app, the worker's look-ups, the ``qc`` command)."""
        return cls(db, settings.checker_link_idle_days)

    def ensure_indexes(self) -> None:
        """Indexes the look-ups below rely on (idempotent)."""
        self.people.create_index([("username", ASCENDING)], unique=True, sparse=True)
        self.people.create_index([("site_id", ASCENDING), ("role", ASCENDING)])
        self.tokens.create_index([("checker_id", ASCENDING)])
        self.link_log.create_index([("checker_id", ASCENDING), ("at", ASCENDING)])

    def is_empty(self) -> bool:
        """True before any site has been loaded."""
        return self.sites.find_one({}, {"_id": 1}) is None

    def site(self, site_id: str) -> dict | None:
        """One site, or None."""
        return self.sites.find_one({"_id": site_id})

    def person(self, person_id: str) -> dict | None:
        """One person, or None."""
        return self.people.find_one({"_id": person_id})

    def at_site(self, site_id: str, role: str, fields: dict) -> list[dict]:
        """Everyone of one role at a site, in post or not (by the (site_id, role) index)."""
        return list(self.people.find({"site_id": site_id, "role": role}, fields))

    def sites_and_checkers(self, site_id: str | None, region_id: str | None) -> tuple[list[str], list[str]]:
        """A site's id (or every site of a region's) and the ids of their checkers, in post or not."""
        if site_id:
            return [site_id], [p["_id"] for p in self.at_site(site_id, "checker", {"_id": 1})]
        sites = [s["_id"] for s in self.sites.find({"region_id": region_id}, {"_id": 1})]
        return sites, [p["_id"] for p in self.people.find({"role": "checker", "site_id": {"$in": sites}}, {"_id": 1})]

    def site_manager_names(self, site_id: str) -> list[str]:
        """The names of a site's managers now in post (who can give a checker a new link)."""
        found = self.at_site(site_id, "site_manager", {"name": 1, "active": 1})
        return sorted(p["name"] for p in found if p.get("active", True) and p.get("name"))

    def manager_by_username(self, username: str) -> dict | None:
        """An active manager's record (with password hash), or None."""
        return self.people.find_one({"username": username, "role": {"$in": list(MANAGER_ROLES)}, "active": True})

    def checker_for_token(self, token_hash: str) -> dict | None:
        """The live token record for a hashed checker token, or None (stopped, or unused too long).

        Held in memory (token_table.py): a link stopped here stops at once,
        one stopped in another process within half a second.
        """
        record = self.token_table.live(token_hash)
        if record is None:
            return None
        now = events.now()
        used = record.get("used_at") or record["created_at"]
        if self.link_idle_days and used < now - dt.timedelta(days=self.link_idle_days):
            stopped = self.tokens.update_one({"_id": token_hash, "revoked_at": None}, {"$set": {"revoked_at": now}})
            if stopped.modified_count:
                self.log_link(record["checker_id"], "expired", "qc", None, 1)
            self.token_table.stopped()
            return None
        if used < now - USE_RESOLUTION:
            self.tokens.update_one({"_id": token_hash}, {"$set": {"used_at": now}})
            self.token_table.used(token_hash, now)
        return record

    def add_checker_token(self, checker_id: str, site_id: str, token_hash: str) -> None:
        """Store a new sign-in token (its hash only)."""
        now = events.now()
        record = {"_id": token_hash, "checker_id": checker_id, "site_id": site_id, "created_at": now, "used_at": now}
        self.tokens.insert_one({**record, "revoked_at": None})

    def revoke_checker_tokens(self, checker_id: str, token_hash: str | None = None) -> int:
        """Stop a checker's sign-in links (one, or all of them); returns how many were stopped."""
        query = {"checker_id": checker_id, "revoked_at": None}
        if token_hash:
            query["_id"] = token_hash
        stopped = self.tokens.update_many(query, {"$set": {"revoked_at": events.now()}}).modified_count
        self.token_table.stopped()  # even when none matched here: another process may hold one stopped meanwhile
        return stopped

    def stop_links(self, person_id: str, by: str, role: str | None) -> tuple[int, dict | None]:
        """Stop every link of a person (sign-in links, the sessions on their phones, their board links).

        Returns (sign-in links stopped, the person as now stored): publish the person, so the other
        services refuse board links given before ``links_reset_at``.
        """
        stopped = self.revoke_checker_tokens(person_id)
        person = update_and_read(self.people, {"_id": person_id}, {"$set": {"links_reset_at": events.now()}})
        self.changes.bump()
        self.log_link(person_id, "stopped", by, role, stopped)
        return stopped, person

    def end_sessions(self, username: str) -> dict | None:
        """End every token and session of a manager (sign-out everywhere); the person as now stored, to publish."""
        person = update_and_read(
            self.people,
            {"username": username, "role": {"$in": list(MANAGER_ROLES)}},
            {"$set": {"tokens_valid_after": events.now()}},
            read={"username": username},
        )
        self.changes.bump()
        return person

    def manager_standing(self, username: str) -> dict | None:
        """What qc.standing needs of a manager: role, area, active, tokens_valid_after."""
        fields = {"role": 1, "region_id": 1, "site_id": 1, "active": 1, "tokens_valid_after": 1}
        return self.people.find_one({"username": username, "role": {"$in": list(MANAGER_ROLES)}}, fields)

    def live_links(self, checker_id: str) -> list[dict]:
        """A checker's working links (hashes, when made and last used), newest first."""
        return list(self.tokens.find({"checker_id": checker_id, "revoked_at": None}, sort=[("created_at", -1)]))

    def log_link(self, checker_id: str, action: str, by: str, role: str | None, count: int) -> None:
        """Who issued or stopped a checker's links, and when (identifiers only)."""
        self.link_log.insert_one(
            {"checker_id": checker_id, "action": action, "by": by, "role": role, "count": count, "at": events.now()}
        )

    def upsert(self, entity: str, doc: dict) -> None:
        """Create or replace one region, site or person."""
        collection = {"region": self.regions, "site": self.sites, "person": self.people}[entity]
        if entity != "person" and "check_interval" not in doc:  # a re-import keeps what the schedule page set
            before = collection.find_one({"_id": doc["_id"]}, {"check_interval": 1}) or {}
            doc = {**doc, "check_interval": before.get("check_interval")} if before.get("check_interval") else doc
        if entity == "person":
            before = self.people.find_one({"_id": doc["_id"]}, {"password_hash": 0}) or {}
            # A re-import must not revive what was stopped, nor wipe what managers wrote on the checker's page.
            for kept in ("links_reset_at", "tokens_valid_after", "record"):
                if before.get(kept) and kept not in doc:
                    doc = {**doc, kept: before[kept]}
            if before and any(before.get(f) != doc.get(f) for f in ("role", "region_id", "site_id", "active")):
                # A manager's tokens carry their role and area: those made before the change stop.
                doc = {**doc, "tokens_valid_after": events.now()}
            if not doc.get("active", True) and before.get("active", True):
                # Deactivated: every link, session and board link stops at once, not when they run out.
                stopped = self.revoke_checker_tokens(doc["_id"])
                doc = {**doc, "links_reset_at": events.now()}
                self.log_link(doc["_id"], "deactivated", "directory", None, stopped)
        collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)
        self.changes.bump()

    def all_entities(self):
        """Every (entity, doc): regions first, so consumers meet parents first."""
        for entity, collection in (("region", self.regions), ("site", self.sites), ("person", self.people)):
            for doc in collection.find({}, sort=[("_id", ASCENDING)]):
                yield entity, doc


class HeldDirectory:
    """Sites and people held in memory (the validator's look-ups), read again when the directory's generation moves.

    Each batch reads the generation once (one look-up by ``_id``) and only the
    ids it has not met yet, in short ``_id $in`` lists, instead of every site
    and checker of the batch.
    """

    def __init__(self, directory: Directory):
        self.directory = directory
        self._generation: int | None = None
        self._sites: dict[str, dict] = {}
        self._people: dict[str, dict] = {}

    def look_up(self, site_ids, person_ids) -> tuple[dict[str, dict], dict[str, dict]]:
        """(sites by id, people by id) among those asked for that exist."""
        generation = self.directory.changes.read()
        if generation != self._generation:
            self._sites, self._people, self._generation = {}, {}, generation
        for held, collection, wanted in (
            (self._sites, self.directory.sites, site_ids),
            (self._people, self.directory.people, person_ids),
        ):
            missing = [i for i in set(wanted) if i not in held]
            held.update((d["_id"], d) for d in find_in(collection, "_id", missing))
        return (
            {i: self._sites[i] for i in site_ids if i in self._sites},
            {i: self._people[i] for i in person_ids if i in self._people},
        )
