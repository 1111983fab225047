"""aggregate's facts (one per validated submission) and the roll-ups counted from them.

Only region and organisation roll-ups are stored. A site's roll-ups are
counted from its facts (one to three a week; the worker holds the ones it
counts, state.py): readers count them here, through the facts' indexes by
site and by region, so a check costs the database one insert (its fact) and
no rewritten roll-up."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from pymongo import ASCENDING, DESCENDING, ReplaceOne, ReturnDocument
from pymongo.database import Database

from qc import periods
from qc.mongo import find_in, write_unordered
from services.aggregate.rules import rollups as rollup_rules

# What rollup_rules.site_rollup reads of a fact.
_ROLLUP_FIELDS = {"scores": 1, "site_id": 1, "region_id": 1, "received_at": 1, "answered_by": 1, "confidence": 1}


class RollupStore:
    """Facts are written once (keyed by submission_id); roll-ups are recomputed from them."""

    # Up to this many sites of one period are read with one indexed query each (about 1 ms
    # apiece on SecantusDB), more with one range query that reads every fact between the
    # first and last site (about 0.05 ms a fact). Measured in docs/benchmarks.md.
    per_site_max = 100

    def __init__(self, db: Database, prefix: str = "agg_"):
        # The prefix lets a replay build fresh collections beside the live ones.
        self.facts = db[f"{prefix}facts"]
        self.rollups = db[f"{prefix}rollups"]
        self.sequence = db["agg_sequence"]

    def ensure_indexes(self) -> None:
        """Indexes for the pages' look-ups: facts by site, region or everyone and a visit-day range (``facts_in``)."""
        self.facts.create_index([("site_id", ASCENDING), ("visited_on", DESCENDING)])
        self.facts.create_index([("region_id", ASCENDING), ("visited_on", ASCENDING)])
        self.facts.create_index([("visited_on", ASCENDING)])
        # Each secondary index costs every insert (about 75 µs on SecantusDB): the nine per period kind
        # that facts had are gone, as a visit-day range reads the same facts (docs/benchmarks.md).
        for name in _OBSOLETE_FACT_INDEXES & set(self.facts.index_information()):
            self.facts.drop_index(name)
        # A period's region roll-ups (``org_members``); one index only: each secondary index nearly doubles
        # what rewriting a roll-up costs on SecantusDB (0.25 -> 0.45 ms; benchmarks.md).
        self.rollups.create_index([("scope", ASCENDING), ("period", ASCENDING), ("region_id", ASCENDING)])
        for name in _OBSOLETE_ROLLUP_INDEXES & set(self.rollups.index_information()):
            self.rollups.drop_index(name)
        self._drop_unstored_site_rollups()

    def _drop_unstored_site_rollups(self) -> None:
        """Site roll-ups were stored until they were counted from facts: those left are removed, once."""
        done = {"_id": "site_rollups_counted"}
        if self.sequence.find_one(done) is None:
            self.rollups.delete_many({"scope": "site"})  # a scan, once
            self.sequence.replace_one(done, done, upsert=True)

    def save_facts(self, facts: list[dict]) -> set[str]:
        """Insert facts not seen before; return the ids that were new.

        One unordered insert_many: a fact already stored (a redelivery) fails
        alone with a duplicate key and the rest land. It does what per-fact
        ``$setOnInsert`` upserts did at several times the speed on SecantusDB.
        """
        if not facts:
            return set()
        met = write_unordered(self.facts, facts)
        return {fact["_id"] for i, fact in enumerate(facts) if i not in met}

    def facts_stored_in(self, period: str) -> bool:
        """True when a fact of ``period`` is stored (one indexed look-up)."""
        return self.facts.find_one(facts_in(period), {"_id": 1}) is not None

    def site_rollups_from_facts(self, keys: set[tuple[str, str, str]], without=frozenset()) -> list[dict]:
        """Site roll-ups for (site, region, period) counted from the stored facts but those ``without`` (not
        written)."""
        grouped = self._facts_by_site(keys)
        return [
            rollup_rules.site_rollup(
                site, region, period, [f for f in grouped[(site, period)] if f["_id"] not in without]
            )
            for site, region, period in keys
        ]

    def region_members(self, region_id: str, period: str) -> list[dict]:
        """Every site roll-up of a region and period, counted from the region's facts (one indexed query)."""
        by_site = defaultdict(list)
        for fact in self.facts.find({"region_id": region_id, **facts_in(period)}, _ROLLUP_FIELDS):
            by_site[fact["site_id"]].append(fact)
        return [_counted(site, period, facts) for site, facts in sorted(by_site.items())]

    def org_members(self, period: str) -> list[dict]:
        """Every stored region roll-up of a period."""
        return list(self.rollups.find({"scope": "region", "period": period}))

    def write_sums(self, docs: list[dict]) -> list[dict]:
        """Store region and organisation roll-ups (guarded by one ticket); those stored."""
        return self._write_newer(docs, self._ticket()) if docs else []

    def _facts_by_site(self, keys) -> defaultdict:
        sites_by_period = defaultdict(set)
        for site, _region, period in keys:
            sites_by_period[period].add(site)
        grouped = defaultdict(list)
        for period, sites in sorted(sites_by_period.items()):
            if len(sites) <= self.per_site_max:
                # A few sites spread over the directory: the range would read every site's facts between them.
                for site in sorted(sites):
                    grouped[(site, period)].extend(
                        self.facts.find({"site_id": site, **facts_in(period)}, _ROLLUP_FIELDS)
                    )
                continue
            for fact in self.facts.find(facts_in(period), _ROLLUP_FIELDS):
                if fact["site_id"] in sites:
                    grouped[(fact["site_id"], period)].append(fact)
        return grouped

    def recompute_sums(self, region_keys: set[tuple[str, str]], now) -> list[dict]:
        """Region and organisation roll-ups summed from what is stored (when other members write sites too)."""
        if not region_keys:
            return []
        region_rollups = self._recompute_regions(region_keys, now)
        return region_rollups + self._recompute_org({period for _region, period in region_keys}, now)

    def _recompute_regions(self, keys, now) -> list[dict]:
        ticket = self._ticket()
        grouped = {(region, period): self.region_members(region, period) for region, period in sorted(keys)}
        docs = []
        for region, period in keys:
            doc = rollup_rules.region_rollup(region, period, grouped[(region, period)])
            doc["updated_at"] = now
            docs.append(doc)
        return self._write_newer(docs, ticket)

    def _recompute_org(self, period_set, now) -> list[dict]:
        ticket = self._ticket()
        grouped = {p: list(self.rollups.find({"scope": "region", "period": p})) for p in sorted(period_set)}
        docs = []
        for period in period_set:
            doc = rollup_rules.org_rollup(period, grouped[period])
            doc["updated_at"] = now
            docs.append(doc)
        return self._write_newer(docs, ticket)

    def _ticket(self) -> int:
        """A number from one database-wide counter, taken before a recompute reads anything."""
        doc = self.sequence.find_one_and_update(
            {"_id": "rollups"}, {"$inc": {"n": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        return doc["n"]

    def _write_newer(self, docs: list[dict], ticket: int, fresh: set[str] | None = None) -> list[dict]:
        """Store each roll-up unless one computed from a later read is there already; return those stored.

        Several workers may recompute the same region (or the organisation) at
        once, each summing what it read. Every writer recomputes after its own
        writes, so the recompute holding the highest ticket read everything;
        without this guard an older sum written last would stay wrong.
        ``fresh``: the ids worth trying as inserts (None: all of them).
        """
        if not docs:
            return docs
        for doc in docs:
            doc["ticket"] = ticket
        # Inserts first: a roll-up seen for the first time (every new week's, most new months')
        # has nothing older to guard against, and SecantusDB inserts ~2.5x faster than it
        # runs conditional upserts. Those already stored fail alone with a duplicate key;
        # a wrong guess only costs time, never correctness.
        tried = docs if fresh is None else [d for d in docs if d["_id"] in fresh]
        stored, existing = self._insert_new(tried)
        existing += [d for d in docs if fresh is not None and d["_id"] not in fresh]
        if not existing:
            return stored
        # "Less than ticket, or no ticket" written without $or: on SecantusDB an $or
        # filter scans the whole collection for every write (150x slower per roll-up).
        older = {"ticket": {"$not": {"$gte": ticket}}}
        ops = [ReplaceOne({"_id": d["_id"], **older}, d, upsert=True) for d in existing]
        newer = write_unordered(self.rollups, ops)  # a duplicate key: no older roll-up matched, a newer is stored
        return stored + [d for i, d in enumerate(existing) if i not in newer]

    def _insert_new(self, docs: list[dict]) -> tuple[list[dict], list[dict]]:
        """Insert the roll-ups not stored yet; return (inserted, those whose _id was there already)."""
        failed = write_unordered(self.rollups, docs)
        return [d for i, d in enumerate(docs) if i not in failed], [d for i, d in enumerate(docs) if i in failed]

    def rollup(self, scope: str, entity_id: str, period: str) -> dict | None:
        """One roll-up, or None when nothing has been checked."""
        return self.rollups_by_id([f"{scope}:{entity_id}:{period}"]).get(f"{scope}:{entity_id}:{period}")

    def rollups_by_id(self, ids: list[str]) -> dict[str, dict]:
        """Roll-ups among ``ids`` that count a check, by id: a region's or the organisation's as stored, a site's
        counted from its facts."""
        sites = {(*_site_and_period(i), i) for i in ids if i.startswith("site:")}
        found = {d["_id"]: d for d in find_in(self.rollups, "_id", [i for i in ids if not i.startswith("site:")])}
        grouped = self._facts_by_site({(site, None, period) for site, period, _id in sites})
        for site, period, rollup_id in sites:
            if grouped[(site, period)]:
                found[rollup_id] = _counted(site, period, grouped[(site, period)])
        return found


def _site_and_period(rollup_id: str) -> tuple[str, str]:
    """``site:<site>:<period>`` -> (site, period); a site id may hold a colon, a period never does."""
    site, period = rollup_id.split(":", 1)[1].rsplit(":", 1)
    return site, period


def _counted(site_id: str, period: str, facts: list[dict]) -> dict:
    """A site's roll-up counted from its facts, as readers see it (in the region of its latest fact, changed
    when that came in)."""
    latest = max(facts, key=lambda fact: fact["received_at"])
    doc = rollup_rules.site_rollup(site_id, latest["region_id"], period, facts)
    del doc["fact_ids"], doc["regions"]  # what the worker keeps to count each fact once, in its own region
    doc["updated_at"] = dt.datetime.fromisoformat(latest["received_at"])
    return doc


def facts_in(period: str) -> dict:
    """A filter for the facts of a period: a range of visit days, which every fact index ends with."""
    first, last = periods.first_day(period), periods.last_day(period)
    return {"visited_on": {"$gte": first.isoformat(), "$lte": last.isoformat()}}


_OBSOLETE_FACT_INDEXES = {
    name
    for kind in periods.KINDS
    for name in (f"site_id_1_periods.{kind}_1", f"region_id_1_periods.{kind}_1", f"periods.{kind}_1_site_id_1")
}


_OBSOLETE_ROLLUP_INDEXES = {"scope_1_region_id_1_period_1", "scope_1_period_1"}
