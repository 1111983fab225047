"""What aggregate knows of the directory: regions and sites (names, coverage and scoping), active checkers, and
managers (whether their tokens still stand: qc.standing)."""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.database import Database

from qc import events


class SiteDirectory:
    """``agg_regions``, ``agg_sites``, ``agg_checkers`` and ``agg_managers``, filled from ``qc.directory`` events."""

    def __init__(self, db: Database):
        self.region_docs = db["agg_regions"]
        self.sites = db["agg_sites"]
        self.checkers = db["agg_checkers"]
        self.managers = db["agg_managers"]

    def ensure_indexes(self) -> None:
        """Look-ups by region and by site."""
        self.sites.create_index([("region_id", ASCENDING)])
        self.checkers.create_index([("site_id", ASCENDING), ("active", ASCENDING)])

    def apply(self, data: dict) -> None:
        """Record one ``directory.changed`` event (regions, sites, checkers and managers)."""
        if data["entity"] == "region":  # only its name: pages say "North West", not "R01"
            region = {"_id": data["id"], "name": data.get("name")}
            self.region_docs.replace_one({"_id": data["id"]}, region, upsert=True)
        elif data["entity"] == "site":
            self.sites.replace_one(
                {"_id": data["id"]},
                {"_id": data["id"], "region_id": data.get("region_id"), "name": data["name"], "active": data["active"]},
                upsert=True,
            )
        elif data["entity"] == "person" and data.get("username") and data.get("role") != "checker":
            self.managers.replace_one(
                {"_id": data["username"]},
                {
                    "_id": data["username"],
                    "role": data.get("role"),
                    "region_id": data.get("region_id"),
                    "site_id": data.get("site_id"),
                    "active": data["active"],
                    "tokens_valid_after": events.parse_time(data.get("tokens_valid_after")),
                },
                upsert=True,
            )
        elif data["entity"] == "person" and data.get("role") == "checker":
            self.checkers.replace_one(
                {"_id": data["id"]},
                # The name is shown only beside text the checker chose to share with it.
                {"_id": data["id"], "site_id": data.get("site_id"), "name": data.get("name"), "active": data["active"]},
                upsert=True,
            )

    def manager(self, username: str) -> dict | None:
        """A manager's role, area, active and tokens_valid_after (qc.standing)."""
        return self.managers.find_one({"_id": username})

    def site(self, site_id: str) -> dict | None:
        """A site as the directory last described it."""
        return self.sites.find_one({"_id": site_id})

    def region_names(self) -> dict[str, str]:
        """Each known region's name by id (a dozen or so documents, read whole)."""
        return {r["_id"]: r["name"] for r in self.region_docs.find({}, {"name": 1}) if r.get("name")}

    def sites_in_region(self, region_id: str) -> list[dict]:
        """Active sites of a region, by id."""
        return list(self.sites.find({"region_id": region_id, "active": True}, sort=[("_id", ASCENDING)]))

    def regions(self) -> list[str]:
        """Every region with an active site."""
        return sorted(r for r in self.sites.distinct("region_id", {"active": True}) if r)

    def sites_with_active_checker(self, site_ids: list[str]) -> set[str]:
        """Those of ``site_ids`` that have at least one active checker."""
        return set(self.checkers.distinct("site_id", {"site_id": {"$in": site_ids}, "active": True}))

    def checker_names(self, checker_ids: set[str]) -> dict[str, str]:
        """Display names of these checkers, where the directory has one."""
        found = self.checkers.find({"_id": {"$in": sorted(checker_ids)}}, {"name": 1})
        return {c["_id"]: c["name"] for c in found if c.get("name")}
