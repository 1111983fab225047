"""What notify learns from events to apply its rules: contacts, sites and regions, last visits, scores, rejections."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import defaultdict

from pymongo import ASCENDING, ReplaceOne, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database

from qc import events, periods
from qc.generations import Generation
from services.notify.rules.alerts import RECIPIENT_ROLES


class Knowledge:
    """``contacts``, ``notify_sites``, ``notify_regions``, ``notify_scores`` and ``notify_rejections``.

    Every possible recipient is held in memory, read once and again only when
    the contacts have changed: each change of a person bumps the ``contacts``
    generation (qc.generations), which is read once per batch. Reading the ~1,500
    managers for every batch was most of notify's time at 100 submissions/s.
    The counter, not the events this process saw, says when to read again:
    members of a scaled-out group each apply only their partitions of the
    directory, and a deactivated manager must not be told from a stale copy.
    """

    def __init__(self, db: Database):
        self.contacts = db["contacts"]
        self.changes = Generation(db, "contacts")
        self.sites = db["notify_sites"]
        self.regions = db["notify_regions"]  # how often their sites should be checked (qc/schedules.py)
        self.scores = db["notify_scores"]
        self.rejections = db["notify_rejections"]
        self._recipients: dict[tuple, list[dict]] | None = None  # every possible recipient, by role and place
        self._generation: int | None = None  # the counter when they were read
        self._checked = False  # the counter has been read in this batch
        self._changed = False  # a person was written in this batch: bump the counter at its end
        self._caching = False
        self._visits: dict[str, str] = {}  # site -> latest visit seen in this batch, written at its end
        # While a batch is handled: scores noted in it (written at its end), and those read ahead for it.
        self._scores: dict[str, dict] = {}
        self._read_scores: dict[str, float | None] = {}

    def ensure_indexes(self) -> None:
        """Look-ups for routing and the rules."""
        self.contacts.create_index([("role", ASCENDING), ("site_id", ASCENDING)])
        self.contacts.create_index([("role", ASCENDING), ("region_id", ASCENDING)])
        self.contacts.create_index([("username", ASCENDING)])
        self.rejections.create_index([("checker_id", ASCENDING), ("rejected_at", ASCENDING)])

    @contextlib.contextmanager
    def batch(self):
        """Within, the contacts' counter is read once, and visits and scores are written at the end.

        Nothing is written if the batch fails: it is handled again, and ``$max`` makes that harmless.
        """
        self._caching, self._checked, self._visits = True, False, {}
        try:
            yield
            self._flush_visits()
            self._flush_scores()
            if self._changed:
                self.changes.bump()
        finally:
            self._caching, self._checked, self._changed, self._visits = False, False, False, {}
            self._scores, self._read_scores = {}, {}

    def read_scores_ahead(self, rollups: list[dict]) -> None:
        """Inside ``batch()``: the previous periods' scores of these roll-ups, in one query.

        ``note_score`` was two round trips per monthly site roll-up (a third of notify's database
        requests at 100 submissions/s); the writes wait for the batch's end, the reads are done here.
        """
        wanted = {_score_id(r["site_id"], periods.previous(r["period"])) for r in rollups} - set(self._read_scores)
        if not wanted:
            return
        found = {d["_id"]: d["score"] for d in self.scores.find({"_id": {"$in": sorted(wanted)}})}
        self._read_scores.update({i: found.get(i) for i in wanted})

    def _flush_scores(self) -> None:
        if self._scores:
            self.scores.bulk_write(
                [ReplaceOne({"_id": i}, doc, upsert=True) for i, doc in self._scores.items()], ordered=False
            )

    def _flush_visits(self) -> None:
        """The batch's latest visit per site in one write (was one round trip per submission)."""
        if self._visits:
            self.sites.bulk_write(
                [UpdateOne({"_id": s}, {"$max": {"last_visited_on": v}}, upsert=True) for s, v in self._visits.items()],
                ordered=False,
            )

    def apply_directory(self, data: dict) -> None:
        """A ``directory.changed`` event: keep people's roles and addresses, and sites."""
        if data["entity"] == "person":
            self.contacts.replace_one(
                {"_id": data["id"]},
                {
                    "_id": data["id"],
                    "role": data.get("role"),
                    # Shown only where a checker agreed to be named (consent.py).
                    "name": data.get("name"),
                    "site_id": data.get("site_id"),
                    "region_id": data.get("region_id"),
                    "email": data.get("email"),
                    "username": data.get("username"),
                    "supporter_email": data.get("supporter_email"),
                    "active": data["active"],
                    # Board links given to this person before then no longer work (board_pages.py).
                    "links_reset_at": events.parse_time(data.get("links_reset_at")),
                    # A manager's tokens signed before then no longer work (qc.standing).
                    "tokens_valid_after": events.parse_time(data.get("tokens_valid_after")),
                },
                upsert=True,
            )
            self._recipients = None  # read again here at once; the others when they see the counter move
            if self._caching:
                self._changed = True
            else:
                self.changes.bump()
        elif data["entity"] == "site":
            self.sites.update_one(
                {"_id": data["id"]},
                {
                    "$set": {
                        "name": data["name"],
                        "region_id": data.get("region_id"),
                        "active": data["active"],
                        "tell_supporters": bool(data.get("tell_supporters")),
                        "check_interval": data.get("check_interval"),
                    },
                    # A site never checked is due one interval after this (qc/schedules.py).
                    "$setOnInsert": {"first_seen_on": events.now().date().isoformat()},
                },
                upsert=True,
            )

        elif data["entity"] == "region":
            doc = {"_id": data["id"], "name": data["name"], "check_interval": data.get("check_interval")}
            self.regions.replace_one({"_id": data["id"]}, doc, upsert=True)

    def checkers_at(self, site_id: str) -> list[dict]:
        """A site's active checkers: their names and addresses, and their supporters'."""
        return list(self.contacts.find({"role": "checker", "site_id": site_id, "active": True}))

    def region_intervals(self) -> dict[str, str]:
        """Each region's check interval, where it has one."""
        return region_intervals(self.regions)

    def note_visit(self, site_id: str, visited_on: str) -> None:
        """Remember the latest visit date of a site (order of arrival does not matter)."""
        if self._caching:  # written once at the end of the batch
            self._visits[site_id] = max(visited_on, self._visits.get(site_id, visited_on))
            return
        self.sites.update_one({"_id": site_id}, {"$max": {"last_visited_on": visited_on}}, upsert=True)

    def site(self, site_id: str) -> dict | None:
        """What notify knows of a site."""
        return self.sites.find_one({"_id": site_id})

    def active_sites(self):
        """Every active site with a region."""
        return self.sites.find({"active": True, "region_id": {"$ne": None}})

    def note_score(self, rollup: dict) -> float | None:
        """Keep a site roll-up's score; return the previous period's score, if known."""
        doc_id = _score_id(rollup["site_id"], rollup["period"])
        doc = {"_id": doc_id, "score": rollup["score"], "checks": rollup["checks"]}
        previous_id = _score_id(rollup["site_id"], periods.previous(rollup["period"]))
        if self._caching:  # in a batch: written at its end, and read from what this batch saw first
            self._scores[doc_id] = doc
            if previous_id in self._scores:
                return self._scores[previous_id]["score"]
            if previous_id in self._read_scores:
                return self._read_scores[previous_id]
        else:
            self.scores.replace_one({"_id": doc_id}, doc, upsert=True)
        previous = self.scores.find_one({"_id": previous_id})
        return previous["score"] if previous else None

    def note_rejection(self, rejected: dict) -> None:
        """Keep one rejected submission (once, even if redelivered)."""
        self.rejections.replace_one(
            {"_id": rejected["submission_id"]},
            {
                "_id": rejected["submission_id"],
                "checker_id": rejected["checker_id"],
                "rejected_at": dt.datetime.fromisoformat(rejected["rejected_at"]),
            },
            upsert=True,
        )

    def rejections_since(self, checker_id: str, days: int, now: dt.datetime) -> int:
        """How many of a checker's submissions were rejected in the last ``days``."""
        since = now - dt.timedelta(days=days)
        return self.rejections.count_documents({"checker_id": checker_id, "rejected_at": {"$gte": since}})

    def people(self, roles: list[str], alert: dict) -> list[dict]:
        """Active people with an e-mail address, in these roles, for this alert's site and region."""
        wanted = []
        if "site_manager" in roles:
            wanted.append({"role": "site_manager", "site_id": alert["site_id"]})
        if "regional_manager" in roles:
            wanted.append({"role": "regional_manager", "region_id": alert["region_id"]})
        if "safeguarding_lead" in roles:
            wanted.append({"role": "safeguarding_lead"})
        if not wanted:
            return []
        # Looked up by (role, where) rather than scanning the ~1,500 possible recipients for every alert.
        by_place = self._current_recipients()
        found = {c["_id"]: c for w in wanted for c in by_place.get(tuple(w.items()), ())}
        return [found[i] for i in sorted(found)]

    def _current_recipients(self) -> dict[tuple, list[dict]]:
        """Every active contact with an address in a recipient role, by role and place (site, region, or
        everywhere), read again when the counter has moved."""
        if not (self._caching and self._checked):
            generation = self.changes.read()
            self._checked = self._caching
            if generation != self._generation:
                self._recipients, self._generation = None, generation
        if self._recipients is None:
            query = {"role": {"$in": list(RECIPIENT_ROLES)}, "active": True, "email": {"$ne": None}}
            recipients = defaultdict(list)
            for contact in self.contacts.find(query, sort=[("_id", ASCENDING)]):
                for where in (("site_id", contact.get("site_id")), ("region_id", contact.get("region_id")), None):
                    key = (("role", contact["role"]),) + ((where,) if where else ())
                    recipients[key].append(contact)
            # Held only once read whole: a read cut short (the database gone mid-way) must not leave an alert's
            # managers half known for the next batch.
            self._recipients = recipients
        return self._recipients

    def person_by_username(self, username: str) -> dict | None:
        """A manager's contact record by their sign-in name."""
        return self.contacts.find_one({"username": username, "active": True})


def _score_id(site_id: str, period: str) -> str:
    return f"{site_id}:{period}"


def region_intervals(regions: Collection) -> dict[str, str]:
    """Each region's check interval, where it has one (a dozen regions: read whole), from ``notify_regions``."""
    return {r["_id"]: r["check_interval"] for r in regions.find({"check_interval": {"$ne": None}})}
