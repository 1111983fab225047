"""The aggregation worker's roll-ups held in memory, the way a stream processor keeps state beside its partitions.

Site roll-ups are not stored: a site's week and month are counted from its
facts, its quarter is the sum of its three months. Events are keyed by site,
so each site's events reach one member of the group, and that member holds
the site roll-ups it has touched here, with the ids of the facts each counts
(``fact_ids``): a new fact is added to them in memory (``add_fact``) instead
of re-reading every fact of the period, and a fact met again (a redelivery
after a crash, a replay) is not counted twice. A week or month not held is
counted from the stored facts but the batch's new ones; not read at all
when no fact of its period was stored when the period was first met
(``counted_here``): every fact of it since has been counted here, but for a
site whose roll-up was let go meanwhile (a partition lagging behind the
others), which is counted from the facts again. A quarter is held as a sum
(``quarters``), made from its months and grown by the facts they newly count.

Region and organisation sums: when this member owns every partition (the
default: one aggregation worker; and a replay), nobody else counts sites, so
the sums are kept here too, as sums: each fact a site roll-up newly counts is
added to its region's and the organisation's sum (``add_to_sum``), so a sum
costs one small document in memory, not its 125 site roll-ups. A sum not
held is counted once from the stored facts (one indexed query). When the
group is shared, the sums are computed from the database every time
(``RollupStore.recompute_sums``).

Everything here can be rebuilt from what is stored: dropped on a rebalance
or a replay switch-over, bounded (least recently used first out), and
counted again from the facts on demand, so losing it costs time, never
figures. Readers count and sum the same way (``RollupStore``).
"""

from __future__ import annotations

from collections import OrderedDict

from qc import periods
from services.aggregate.rules import rollups as rollup_rules

# Bounds measured against the 150 MiB a worker may use (docs/benchmarks.md): a site roll-up held
# costs about 5 KiB of Python objects, a sum about 2 KiB. The working set is the current week, month
# and quarter of 1,500 sites and their regions' (12 x 3), with room for the periods just ended (a
# quarter not held is summed from its three months: those of 1,500 sites are held); a replay of a
# year walks through its periods in order.
SITE_MONTHS_HELD = 4_500
SITE_QUARTERS_HELD = 2_000  # sums, without the ids of the facts they count (their months hold those)
SITE_WEEKS_HELD = 3_000  # every site's week and the one before (a round of checks spans two ISO weeks)
REGION_PERIODS_HELD = 400
ORG_PERIODS_HELD = 40


class _Lru(OrderedDict):
    def __init__(self, limit: int, on_evict=None):
        super().__init__()
        self.limit = limit
        self.on_evict = on_evict

    def touch(self, key, value=None):
        if value is not None:
            self[key] = value
        elif key not in self:
            raise KeyError(key)
        self.move_to_end(key)
        while len(self) > self.limit:
            evicted, value = self.popitem(last=False)
            if self.on_evict is not None:
                self.on_evict(evicted, value)
        return self[key]


class OpenRollups:
    """Site months and weeks by id; site quarters (sums) by id; region sums by (region, period); organisation
    sums by period."""

    def __init__(self):
        self.months: _Lru = _Lru(SITE_MONTHS_HELD, on_evict=self._let_go)
        self.weeks: _Lru = _Lru(SITE_WEEKS_HELD, on_evict=self._let_go)
        self.quarters: _Lru = _Lru(SITE_QUARTERS_HELD)  # site quarter roll-up id -> its months' sum
        # week or month -> the sites whose roll-up of it was let go, while every fact of the period met since it
        # was first asked about (none stored then) has been counted here; False when facts were stored before.
        self.counted_here: _Lru = _Lru(ORG_PERIODS_HELD)
        self.regions: _Lru = _Lru(REGION_PERIODS_HELD)  # (region, period) -> region roll-up
        self.org: _Lru = _Lru(ORG_PERIODS_HELD)  # period -> organisation roll-up

    def clear(self) -> None:
        """Forget everything (partitions moved, or a replay replaced the stored roll-ups)."""
        self.months.clear()
        self.weeks.clear()
        self.quarters.clear()
        self.counted_here.clear()
        self.clear_sums()

    def clear_sums(self) -> None:
        self.regions.clear()
        self.org.clear()

    def region_sum(self, region_id: str, period: str) -> dict | None:
        """The region's roll-up for a period if held, else None."""
        key = (region_id, period)
        return self.regions.touch(key) if key in self.regions else None

    def hold_region_sum(self, doc: dict) -> dict:
        return self.regions.touch((doc["region_id"], doc["period"]), doc)

    def region_sums_of(self, period: str) -> list[dict]:
        """Every region sum held for a period (fresher than what is stored, or the same)."""
        return [doc for (_region, held_period), doc in self.regions.items() if held_period == period]

    def org_sum(self, period: str) -> dict | None:
        return self.org.touch(period) if period in self.org else None

    def hold_org_sum(self, doc: dict) -> dict:
        return self.org.touch(doc["period"], doc)

    def note_new_periods(self, facts: list[dict], store) -> None:
        """Before a batch's facts are stored: whether each of its weeks and months has no fact stored yet."""
        self._ask_counted_here({f["periods"][kind] for f in facts for kind in ("week", "month")}, store)

    def _ask_counted_here(self, periods_asked, store) -> None:
        """Asked once per period: with no fact stored, every fact of it met from now on is counted here."""
        for period in sorted(periods_asked):
            if period not in self.counted_here:
                self.counted_here.touch(period, False if store.facts_stored_in(period) else set())

    def _all_counted_here(self, site_id: str, period: str) -> bool:
        let_go = self.counted_here.get(period, False)
        return let_go is not False and site_id not in let_go

    def _let_go(self, _rollup_id: str, doc: dict) -> None:
        """A site roll-up let go: its facts are counted from the store again if more of them come."""
        let_go = self.counted_here.get(doc["period"])
        if isinstance(let_go, set):
            let_go.add(doc["site_id"])

    def months_for(self, facts: list[dict], new_ids, store) -> dict[str, dict]:
        """The site months these facts fall in, before the new ones are counted in them (``_counted_for``)."""
        return self._counted_for(facts, "month", self.months, new_ids, store)

    def weeks_for(self, facts: list[dict], new_ids, store) -> dict[str, dict]:
        """The site weeks these facts fall in, before the new ones are counted in them (``_counted_for``)."""
        return self._counted_for(facts, "week", self.weeks, new_ids, store)

    def _counted_for(self, facts: list[dict], kind: str, held: _Lru, new_ids, store) -> dict[str, dict]:
        """Held, or counted from the stored facts but ``new_ids``; not read for a period that had none stored
        when first asked (``note_new_periods``), unless this site's roll-up of it was let go since."""
        wanted = {
            f"site:{f['site_id']}:{f['periods'][kind]}": (f["site_id"], f["region_id"], f["periods"][kind])
            for f in facts
        }
        # Taken from what is held before anything is added, so a batch larger than what may be held is whole.
        found = {i: held.touch(i) for i in wanted if i in held}
        missing = {key for i, key in wanted.items() if i not in found}
        unread = {key for key in missing if not self._all_counted_here(key[0], key[2])}
        counted = {d["_id"]: d for d in store.site_rollups_from_facts(unread, without=new_ids)}
        for key in missing:
            rollup_id = f"site:{key[0]}:{key[2]}"
            found[rollup_id] = held.touch(rollup_id, counted.get(rollup_id) or rollup_rules.empty_site_rollup(*key))
        return found

    def quarters_for(self, facts: list[dict], months: dict[str, dict], store) -> dict[str, dict]:
        """The site quarters these facts fall in, each the sum of its months before the facts are counted in
        them: held, or summed from the months (``months``, the batch's; held; or counted from the facts)."""
        wanted = {f"site:{f['site_id']}:{f['periods']['quarter']}": f for f in facts}
        quarters = {i: self.quarters.touch(i) for i in wanted if i in self.quarters}
        parts = {
            i: [(f["site_id"], f["region_id"], m) for m in periods.months_of(f["periods"]["quarter"])]
            for i, f in wanted.items()
            if i not in quarters
        }
        month_keys = {key for keys in parts.values() for key in keys}
        # The batch's facts are in its own months (``months``): the quarter's other months are counted from the
        # stored facts, but not one with none of this site's stored (the quarter's months to come).
        self._ask_counted_here({month for _site, _region, month in month_keys}, store)
        found, unread = {}, set()
        for site, region, month in month_keys:
            rollup_id = f"site:{site}:{month}"
            found[rollup_id] = months.get(rollup_id) or (
                self.months.touch(rollup_id) if rollup_id in self.months else None
            )
            if found[rollup_id] is None and not self._all_counted_here(site, month):
                unread.add((site, region, month))
        found.update((d["_id"], d) for d in store.site_rollups_from_facts(unread) if d["checks"])
        for rollup_id, keys in parts.items():
            fact = wanted[rollup_id]
            got = [found[m] for m in (f"site:{s}:{p}" for s, _r, p in keys) if found.get(m)]
            region = got[-1]["region_id"] if got else fact["region_id"]
            doc = rollup_rules.site_sum(fact["site_id"], region, fact["periods"]["quarter"], got)
            quarters[rollup_id] = self.quarters.touch(rollup_id, doc)
        return quarters
