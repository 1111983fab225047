"""aggregate's facts (one per validated submission) and the roll-ups recomputed from them."""

from __future__ import annotations

from collections import defaultdict

from pymongo import ASCENDING, DESCENDING, ReplaceOne, UpdateOne
from pymongo.database import Database

from qc import events, periods
from services.aggregate import handlers


class RollupStore:
    """Facts are written once (keyed by submission_id); roll-ups are recomputed from them."""

    def __init__(self, db: Database, prefix: str = "agg_"):
        # The prefix lets a replay build fresh collections beside the live ones.
        self.facts = db[f"{prefix}facts"]
        self.rollups = db[f"{prefix}rollups"]

    def ensure_indexes(self) -> None:
        """Indexes for recomputation and the API's look-ups."""
        for kind in periods.KINDS:
            self.facts.create_index([("site_id", ASCENDING), (f"periods.{kind}", ASCENDING)])
            self.facts.create_index([("region_id", ASCENDING), (f"periods.{kind}", ASCENDING)])
        self.facts.create_index([("site_id", ASCENDING), ("visited_on", DESCENDING)])
        self.rollups.create_index([("scope", ASCENDING), ("region_id", ASCENDING), ("period", ASCENDING)])

    def save_facts(self, facts: list[dict]) -> set[str]:
        """Insert facts not seen before; return the ids that were new."""
        if not facts:
            return set()
        result = self.facts.bulk_write(
            [UpdateOne({"_id": f["_id"]}, {"$setOnInsert": f}, upsert=True) for f in facts],
            ordered=False,
        )
        return {str(i) for i in result.upserted_ids.values()}

    def recompute(self, keys: set[tuple[str, str, str]]) -> list[dict]:
        """Rebuild the site and region roll-ups for these (site, region, period) keys."""
        if not keys:
            return []
        now = events.now()
        site_rollups = self._recompute_sites(keys, now)
        region_keys = {(region, period) for _site, region, period in keys}
        region_rollups = self._recompute_regions(region_keys, now)
        org_rollups = self._recompute_org({period for _region, period in region_keys}, now)
        return site_rollups + region_rollups + org_rollups

    def _recompute_sites(self, keys, now) -> list[dict]:
        by_kind = defaultdict(set)
        for _site, _region, period in keys:
            by_kind[periods.kind_of(period)].add(period)
        query = {
            "site_id": {"$in": sorted({site for site, _r, _p in keys})},
            "$or": [{f"periods.{kind}": {"$in": sorted(ps)}} for kind, ps in by_kind.items()],
        }
        grouped = defaultdict(list)
        for fact in self.facts.find(query, {"scores": 1, "site_id": 1, "periods": 1, "received_at": 1}):
            for period in fact["periods"].values():
                grouped[(fact["site_id"], period)].append(fact)
        docs = []
        for site, region, period in keys:
            doc = handlers.site_rollup(site, region, period, grouped[(site, period)])
            doc["updated_at"] = now
            docs.append(doc)
        self.rollups.bulk_write([ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs], ordered=False)
        return docs

    def _recompute_regions(self, keys, now) -> list[dict]:
        grouped = defaultdict(list)
        query = {
            "scope": "site",
            "region_id": {"$in": sorted({r for r, _p in keys})},
            "period": {"$in": sorted({p for _r, p in keys})},
        }
        for rollup in self.rollups.find(query):
            grouped[(rollup["region_id"], rollup["period"])].append(rollup)
        docs = []
        for region, period in keys:
            doc = handlers.region_rollup(region, period, grouped[(region, period)])
            doc["updated_at"] = now
            docs.append(doc)
        self.rollups.bulk_write([ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs], ordered=False)
        return docs

    def _recompute_org(self, period_set, now) -> list[dict]:
        grouped = defaultdict(list)
        for rollup in self.rollups.find({"scope": "region", "period": {"$in": sorted(period_set)}}):
            grouped[rollup["period"]].append(rollup)
        docs = []
        for period in period_set:
            doc = handlers.org_rollup(period, grouped[period])
            doc["updated_at"] = now
            docs.append(doc)
        self.rollups.bulk_write([ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs], ordered=False)
        return docs

    def rollup(self, scope: str, entity_id: str, period: str) -> dict | None:
        """One stored roll-up, or None when nothing has been checked."""
        return self.rollups.find_one({"_id": f"{scope}:{entity_id}:{period}"})

    def site_rollups(self, region_id: str, period: str) -> list[dict]:
        """Every site roll-up of a region in a period."""
        return list(self.rollups.find({"scope": "site", "region_id": region_id, "period": period}))

    def rollups_by_id(self, ids: list[str]) -> dict[str, dict]:
        """Stored roll-ups among ``ids``, by id."""
        return {d["_id"]: d for d in self.rollups.find({"_id": {"$in": ids}})}
