"""The aggregation worker: validated submissions in, roll-ups and ``rollup.updated`` out."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

from qc import events, metrics, periods
from qc.handler import Delivery, Handler
from qc.question_words import LearnedVersions
from qc.settings import TOPICS
from services.aggregate.rules import rollups as rollup_rules
from services.aggregate.stores.actions import SiteActions
from services.aggregate.stores.answerers import Answerers
from services.aggregate.stores.control import ReplayControl
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.fix_feedback import Feedback
from services.aggregate.stores.rollups import RollupStore
from services.aggregate.stores.state import OpenRollups
from services.aggregate.stores.voices import Voices

log = logging.getLogger(__name__)
GROUP = "qc-aggregate"


class AggregateHandler(Handler):
    """Stores facts once, counts them into the roll-ups they touch (held in memory), announces them."""

    topics = [TOPICS[t] for t in ("validated", "directory", "feedback", "actions", "questions")]
    # Larger polls than the other workers': a poll costs the database a few round trips whatever its size
    # (its facts in one insert, the answerers', the sums at the commit), so a backlog drains in fewer of them
    # (docs/benchmarks.md, eighth round). Under everyday load a poll holds what has come, not more.
    poll_records = 1500

    def __init__(
        self,
        store: RollupStore,
        directory: SiteDirectory,
        publisher,
        control: ReplayControl | None = None,
        *,
        sole_writer: bool = False,
        defer_sums: bool = False,
    ):
        self.store = store
        self.directory = directory
        self.publisher = publisher  # None during a replay: rebuilt figures are not news
        self.control = control
        # The site roll-ups this member counts, held in memory (state.py); the region and
        # organisation sums too while it is the only member (set from the assignment).
        self.open = OpenRollups()
        self.sole_writer = sole_writer
        # The worker writes the sums it holds once per commit interval instead of every batch
        # (``flush``): a batch at 100 checks/s touches most regions, so that is ~30 writes a batch
        # saved (docs/benchmarks.md, ninth round). Which (region, period) sums are ahead of the stored
        # ones is kept apart from what is held, which may be dropped: those are summed again then.
        self.defer_sums = defer_sums
        self.unwritten: set[tuple[str, str]] = set()
        self._was_paused = False
        self.feedback = Feedback(store.facts.database)
        # Outside the store's (replay-prefixed) collections, like feedback: filing is idempotent.
        self.answerers = Answerers(store.facts.database)
        self.actions = SiteActions(store.facts.database)  # what managers are doing, for the site pages
        self.voices = Voices(store.facts.database)
        self.questions = LearnedVersions(store.facts.database, "agg")  # the words of questions made with checkers

    def paused(self) -> bool:
        """Paused while ``qc replay`` rebuilds the collections (which then replace what is held here)."""
        paused = self.control.worker_should_pause() if self.control else False
        if paused and not self._was_paused:
            self.open.clear()
        self._was_paused = paused
        return paused

    def partitions_changed(self, owns_all: bool) -> None:
        """Partitions moved: what is held may be someone else's now; the sums are kept here only if all are ours."""
        self.open.clear()
        self.sole_writer = owns_all

    def handle(self, batch: list[Delivery]) -> None:
        """One write per collection per batch (the database is the bottleneck)."""
        try:
            self._handle(batch)
        except BaseException:
            # What is held may count facts whose sums were not counted: count them again on the retry.
            self.open.clear()
            raise

    def _handle(self, batch: list[Delivery]) -> None:
        facts, validated, voices = [], [], []
        for delivery in batch:
            event = delivery.event
            if event["type"] == "org.qc.submission.validated":
                if events.is_worry_alone(event["data"]):
                    continue  # a worry sent on its own is not a check: notify acts on it, nothing here counts it
                if event["data"].get("kind") == events.VOICE:
                    voices.append(event["data"])  # not a check either: staff team feedback counts it (voices.py)
                    continue
                facts.append(rollup_rules.fact_from_validated(event["data"]))
                validated.append(event["data"])
            elif event["type"] == "org.qc.directory.changed":
                self.directory.apply(event["data"])
            elif event["type"] == "org.qc.fix.feedback":
                self.feedback.record(event["data"])
            elif event["type"] == "org.qc.action.changed":
                self.actions.apply(event["data"])
            elif event["type"] == "org.qc.questions.changed":
                self.questions.apply(event["data"])
        self.open.note_new_periods(facts, self.store)  # before they are stored
        new_ids = self.store.save_facts(facts)
        self.answerers.record(validated)
        self.voices.record(voices)
        rollups = self.roll_up(facts, new_ids)
        _observe_latency([f for f in facts if f["_id"] in new_ids])  # replays would distort the figures
        if facts:
            log.info("roll-ups updated", extra={"facts": len(facts), "new": len(new_ids), "rollups": len(rollups)})

    def roll_up(self, facts: list[dict], new_ids=frozenset()) -> list[dict]:
        """Count the facts into their site roll-ups (held in memory) and into the sums; announce each.

        ``new_ids``: the facts stored just now, for the first time (the others were stored before).
        """
        if not facts:
            return []
        now = events.now()
        # Each site roll-up as counted before these facts: its month and week counted from the stored facts but
        # the new ones (or held), its quarter summed from its months.
        months = self.open.months_for(facts, new_ids, self.store)
        quarters = self.open.quarters_for(facts, months, self.store)
        weeks = self.open.weeks_for(facts, new_ids, self.store)
        # Each check counts in the region it was made in (as the readers count the facts), also for a site moved
        # to another region during a period.
        region_keys = {(f["region_id"], f["periods"][kind]) for f in facts for kind in periods.KINDS}
        # Sums held before these facts are counted take them by addition; the others are counted from the facts.
        held = self._held_sums(region_keys) if self.sole_writer else None
        newly = []  # (region, period, fact, whether it is its site's first check there): what the sums add
        for fact in facts:
            month, week, quarter = (
                months[f"site:{fact['site_id']}:{fact['periods']['month']}"],
                weeks[f"site:{fact['site_id']}:{fact['periods']['week']}"],
                quarters[f"site:{fact['site_id']}:{fact['periods']['quarter']}"],
            )
            firsts = [rollup_rules.first_in_region(doc, fact) for doc in (month, week, quarter)]
            if rollup_rules.add_fact(week, fact):
                newly.append((fact["region_id"], week["period"], fact, firsts[1]))
            if rollup_rules.add_fact(month, fact):
                rollup_rules.add_to_site_sum(quarter, fact)
                newly.append((fact["region_id"], month["period"], fact, firsts[0]))
                newly.append((fact["region_id"], quarter["period"], fact, firsts[2]))
        site_rollups = [group[i] for group in (months, weeks, quarters) for i in sorted(group)]
        for doc in site_rollups:
            doc["updated_at"] = now
        self._announce(site_rollups)  # a site's own figures need not wait for its region's
        sums = self._sums_held(region_keys, held, newly, now) if held is not None else None
        if sums is None:
            self.open.clear_sums()
            self.unwritten -= region_keys
            sums = self.store.recompute_sums(region_keys, now)
        self._announce(sums)
        return site_rollups + sums

    def holds(self) -> bool:
        """True while sums ahead of the stored ones are held (the loop commits only after ``flush``)."""
        return bool(self.unwritten)

    def flush(self) -> None:
        """Write the held sums ahead of the stored ones (summed again from the database if not held), announced."""
        keys = set(self.unwritten)
        if not keys:
            return
        now = events.now()
        docs = [self.open.region_sum(*key) for key in sorted(keys)]
        docs += [self.open.org_sum(period) for period in sorted({period for _region, period in keys})]
        stored = self.store.write_sums(docs) if self.sole_writer and None not in docs else []
        if len(stored) < len(docs):  # not held (dropped), or someone else wrote later sums: sum the stored ones
            self.open.clear_sums()
            stored = self.store.recompute_sums(keys, now)
        self.unwritten -= keys
        self._announce(stored)

    def _held_sums(self, region_keys) -> tuple[dict, dict]:
        """The region sums (by key) and organisation sums (by period) held now, for these keys."""
        regions = {key: doc for key in region_keys if (doc := self.open.region_sum(*key)) is not None}
        orgs = {p: doc for p in {p for _r, p in region_keys} if (doc := self.open.org_sum(p)) is not None}
        return regions, orgs

    def _sums_held(self, region_keys, held: tuple[dict, dict], newly: list[tuple], now) -> list[dict] | None:
        """Region and organisation roll-ups kept here as sums (this member counts every site); those stored.

        A sum held before this batch adds the facts its sites newly counted; one
        not held is counted from the stored facts, which include them by now.
        """
        held_regions, held_orgs = held
        by_region, by_period = defaultdict(list), defaultdict(list)
        for region, period, fact, first in newly:
            by_region[(region, period)].append((fact, first))
            by_period[period].append((fact, first))
        regions = []
        for region, period in sorted(region_keys):
            doc = held_regions.get((region, period))
            if doc is None:
                doc = rollup_rules.region_rollup(region, period, self.store.region_members(region, period))
            else:
                for fact, first in by_region[(region, period)]:
                    rollup_rules.add_to_sum(doc, fact, first_of_site=first)
            doc["updated_at"] = now
            regions.append(self.open.hold_region_sum(doc))
        orgs = []
        for period in sorted({period for _region, period in region_keys}):
            doc = held_orgs.get(period)
            if doc is None:
                # The stored region roll-ups, with the ones held here (as fresh, or fresher) in their place.
                members = {d["region_id"]: d for d in self.store.org_members(period)}
                members.update((d["region_id"], d) for d in self.open.region_sums_of(period))
                doc = rollup_rules.org_rollup(period, list(members.values()))
            else:
                for fact, first in by_period[period]:
                    rollup_rules.add_to_sum(doc, fact, first_of_site=first)
            doc["updated_at"] = now
            orgs.append(self.open.hold_org_sum(doc))
        if self.defer_sums:
            self.unwritten |= region_keys  # written by ``flush``, before the commit that counts these facts
            return []
        stored = self.store.write_sums(regions + orgs)
        if len(stored) < len(regions) + len(orgs):
            return None  # someone else wrote later sums: this member is not alone after all; sum from the database
        return stored

    def _announce(self, rollups: list[dict]) -> None:
        """Send ``rollup.updated`` for each (the producer batches them; the loop flushes before committing)."""
        for rollup in rollups if self.publisher else []:
            key = rollup["site_id"] or rollup["region_id"] or "org"
            self.publisher.send(TOPICS["rollups"], key, rollup_rules.rollup_event(rollup))


def _observe_latency(facts: list[dict]) -> None:
    """How long each new fact took from intake to its roll-ups."""
    now = events.now()
    for fact in facts:
        received = dt.datetime.fromisoformat(fact["received_at"])
        metrics.PIPELINE_LATENCY.labels("rollup_updated").observe(max((now - received).total_seconds(), 0))


if __name__ == "__main__":  # python -m services.aggregate.worker: the process, wired by bootstrap.py
    from services.aggregate import bootstrap

    bootstrap.run_worker()
