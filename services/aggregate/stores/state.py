"""The aggregation worker's roll-ups held in memory, the way a stream processor keeps state beside its partitions.

Site roll-ups: events are keyed by site, so each site's events reach one
member of the group, and that member is the only writer of the site's
roll-ups. It keeps the ones it has touched here, with the ids of the facts
each counts (``fact_ids``): a new fact is added to its roll-ups in memory
(``handlers.add_fact``) instead of re-reading every fact of the period, and
a fact met again (a redelivery after a crash, a replay) is not counted twice.
A roll-up not held is read by ``_id``; one stored before roll-ups kept their
``fact_ids`` is rebuilt once from its facts.

Region and organisation sums: when this member owns every partition (the
default: one aggregation worker; and a replay), nobody else writes site
roll-ups, so the sums are kept here too, as sums: each fact a site roll-up
newly counts is added to its region's and the organisation's sum
(``handlers.add_to_sum``), so a sum costs one small document in memory,
not its 125 site roll-ups. A sum not held is computed once from the stored
roll-ups (one indexed query). When the group is shared, the sums are
computed from the database every time (``RollupStore.recompute_sums``).

Everything here is a cache of what is stored: dropped on a rebalance or a
replay switch-over, bounded (least recently used first out), and rebuilt
from the database on demand, so losing it costs time, never figures.

Only a site's months are stored. Its quarter is the sum of its three
months (``rollup_rules.site_sum``), held here as a sum (``quarters``) and
grown by the facts its months newly count. Its week is counted from its
facts (``weeks``, with their ids, in memory only): from the stored facts
when first needed, except for a week with no fact stored when first asked
(``new_weeks``), whose facts since have all been counted here (but for a
site whose week was let go meanwhile: a partition lagging behind). Readers
count and sum the same way (``RollupStore``).
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
SITE_ROLLUPS_HELD = 4_500  # months
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
    """Site roll-ups by id; region sums by (region, period); organisation sums by period."""

    def __init__(self):
        # A site roll-up let go makes its period no longer "all held" (``period_is_new``).
        self.sites: _Lru = _Lru(SITE_ROLLUPS_HELD, on_evict=lambda _id, doc: self.new_periods.pop(doc["period"], None))
        self.quarters: _Lru = _Lru(SITE_QUARTERS_HELD)  # site quarter roll-up id -> its months' sum
        self.weeks: _Lru = _Lru(SITE_WEEKS_HELD, on_evict=self._let_go_week)
        # week -> the sites whose week was let go, while every fact of the week met since it was first asked about
        # (none stored then) has been counted here; False when facts were stored before (``note_new_weeks``).
        self.new_weeks: _Lru = _Lru(ORG_PERIODS_HELD)
        self.regions: _Lru = _Lru(REGION_PERIODS_HELD)  # (region, period) -> region roll-up
        self.org: _Lru = _Lru(ORG_PERIODS_HELD)  # period -> organisation roll-up
        self.new_periods: _Lru = _Lru(ORG_PERIODS_HELD)  # period -> True when no site roll-up was stored at first look

    def clear(self) -> None:
        """Forget everything (partitions moved, or a replay replaced the stored roll-ups)."""
        self.sites.clear()
        self.quarters.clear()
        self.weeks.clear()
        self.new_weeks.clear()
        self.clear_sums()
        self.new_periods.clear()

    def clear_sums(self) -> None:
        self.regions.clear()
        self.org.clear()

    def period_is_new(self, period: str, store) -> bool:
        """True when no site roll-up of ``period`` was stored when first asked (since then, every one is held here).

        Held only while the answer is yes: every roll-up of the period written
        since then was written by this member and is held (or was evicted: then
        the period is forgotten too, and asked again).
        """
        if period not in self.new_periods:
            self.new_periods.touch(period, store.period_is_empty(period))
        return self.new_periods.touch(period)

    def missing_sites(self, ids) -> list[str]:
        """Those site roll-up ids not held."""
        return [i for i in ids if i not in self.sites]

    def site(self, rollup_id: str) -> dict:
        return self.sites.touch(rollup_id)

    def hold_site(self, doc: dict) -> None:
        self.sites.touch(doc["_id"], doc)

    def forget_site(self, rollup_id: str) -> None:
        self.sites.pop(rollup_id, None)
        self.quarters.clear()  # a month recounted: its quarter's sum may count what the month no longer does
        self.new_periods.clear()  # a conflict: someone else writes here after all

    def site_quarter(self, rollup_id: str) -> dict | None:
        """A site's quarter (the sum of its months) if held, else None."""
        return self.quarters.touch(rollup_id) if rollup_id in self.quarters else None

    def hold_site_quarter(self, doc: dict) -> dict:
        return self.quarters.touch(doc["_id"], doc)

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

    def for_batch(self, keys, store) -> tuple[dict[str, dict], set[str], dict[str, int]]:
        """The site roll-ups for these (site, region, period) keys: held, read by ``_id``, or new; the new ones'
        ids; the recounted ones' stored checks, by id."""
        wanted = {f"site:{site}:{period}": (site, region, period) for site, region, period in keys}
        missing = self.missing_sites(wanted)
        # Taken from what is held before anything is added, so a batch larger than what may be held is whole.
        batch = {rollup_id: self.site(rollup_id) for rollup_id in wanted if rollup_id not in missing}
        fresh, rebuilt = set(), {}
        if missing:
            # A period with no site roll-up stored yet (a new week) has none of ours either: nothing to read.
            # Ours are only written by us while we own the sites, and what is held is dropped when that changes.
            new_periods = {p for p in {wanted[i][2] for i in missing} if self.period_is_new(p, store)}
            stored = store.read_site_rollups([i for i in missing if wanted[i][2] not in new_periods])
            legacy = {wanted[i] for i in missing if i in stored and "fact_ids" not in stored[i]}
            for doc in store.site_rollups_from_facts(legacy):  # stored before fact_ids were kept
                rebuilt[doc["_id"]] = stored[doc["_id"]]["checks"]
                stored[doc["_id"]] = doc
            for rollup_id in missing:
                if rollup_id not in stored:
                    stored[rollup_id] = rollup_rules.empty_site_rollup(*wanted[rollup_id])
                    fresh.add(rollup_id)
                batch[rollup_id] = stored[rollup_id]
                self.hold_site(stored[rollup_id])
        return batch, fresh, rebuilt

    def quarters_for(self, facts: list[dict], sites: dict[str, dict], store) -> dict[str, dict]:
        """The site quarters these facts fall in, each the sum of its months before the facts are counted in
        them: held, or summed from the months (``sites``, the batch's; held; or read by ``_id``)."""
        wanted = {f"site:{f['site_id']}:{f['periods']['quarter']}": f for f in facts}
        quarters = {i: doc for i in wanted if (doc := self.site_quarter(i)) is not None}
        months = {
            i: [f"site:{f['site_id']}:{m}" for m in periods.months_of(f["periods"]["quarter"])]
            for i, f in wanted.items()
        }
        found = {m: sites.get(m) or self.sites.get(m) for i in wanted if i not in quarters for m in months[i]}
        # A month with no site roll-up stored yet (the quarter's months to come) has none of this site's either.
        unread = [m for m, doc in found.items() if doc is None and not self.period_is_new(m.rsplit(":", 1)[1], store)]
        found.update(store.read_site_rollups(unread))
        for rollup_id, fact in wanted.items():
            if rollup_id not in quarters:
                parts = [found[m] for m in months[rollup_id] if found.get(m)]
                region = parts[-1]["region_id"] if parts else fact["region_id"]
                doc = rollup_rules.site_sum(fact["site_id"], region, fact["periods"]["quarter"], parts)
                quarters[rollup_id] = self.hold_site_quarter(doc)
        return quarters

    def note_new_weeks(self, weeks, store) -> None:
        """Before a batch's facts are stored: whether each of its weeks has no fact stored yet (asked once; then
        every fact of the week met here is counted in ``weeks`` while they are all held)."""
        for week in weeks:
            if week not in self.new_weeks:
                self.new_weeks.touch(week, False if store.facts_stored_in(week) else set())

    def _all_counted_here(self, site_id: str, week: str) -> bool:
        let_go = self.new_weeks.get(week, False)
        return let_go is not False and site_id not in let_go

    def _let_go_week(self, _rollup_id: str, doc: dict) -> None:
        """A site week let go: its facts are counted from the store again if more of them come (a late partition)."""
        let_go = self.new_weeks.get(doc["period"])
        if isinstance(let_go, set):
            let_go.add(doc["site_id"])

    def weeks_for(self, facts: list[dict], new_ids, store) -> dict[str, dict]:
        """The site weeks these facts fall in, before the new ones are counted in them: held, or counted from the
        stored facts but ``new_ids``. Not read for a week that had none stored when first asked
        (``note_new_weeks``), unless this site's week was let go since."""
        wanted = {
            f"site:{f['site_id']}:{f['periods']['week']}": (f["site_id"], f["region_id"], f["periods"]["week"])
            for f in facts
        }
        weeks = {i: self.weeks.touch(i) for i in wanted if i in self.weeks}
        missing = {key for i, key in wanted.items() if i not in weeks}
        unread = {key for key in missing if not self._all_counted_here(key[0], key[2])}
        counted = {d["_id"]: d for d in store.site_rollups_from_facts(unread, without=new_ids)}
        for key in missing:
            rollup_id = f"site:{key[0]}:{key[2]}"
            weeks[rollup_id] = self.weeks.touch(
                rollup_id, counted.get(rollup_id) or rollup_rules.empty_site_rollup(*key)
            )
        return weeks
