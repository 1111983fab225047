"""Worker logic over the real broker and database: dead letters, redelivery, replay order."""

from __future__ import annotations

import base64
import threading
import uuid

import pytest
from kafka import KafkaProducer

from qc import events, signing
from qc.consumer import ConsumerLoop
from qc.kafka import make_consumer
from qc.settings import TOPICS
from services.aggregate.rules import rollups as rollup_rules
from services.aggregate.stores import state
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.rollups import RollupStore
from services.aggregate.worker import AggregateHandler
from tests import builders
from tests.conftest import new_topic, read_topic, wait_for

pytestmark = pytest.mark.integration


def test_redelivered_and_reordered_events_count_once(db, publisher):
    store = RollupStore(db)
    store.ensure_indexes()
    handler = AggregateHandler(store, SiteDirectory(db), publisher)
    a, b, c = (
        builders.validated(),
        builders.validated(scores=(2, 2, 2)),
        builders.validated(visited_on="2026-10-31", scores=(1, 1, 1)),
    )
    handler.handle(builders.deliveries(a, b, c))
    ids = [
        f"{scope}:{p}" for scope in ("site:S0001", "region:R01", "org:all") for p in ("2026-11", "2026-10", "2026-Q4")
    ]

    def figures():
        return {i: (d["checks"], d["score"], d["questions"]) for i, d in store.rollups_by_id(ids).items()}

    first = figures()
    handler.handle(builders.deliveries(c, a))  # redelivery, in another order
    handler.handle(builders.deliveries(b))
    again = figures()
    assert first == again
    assert first["site:S0001:2026-11"][0] == 2 and first["site:S0001:2026-10"][0] == 1
    assert first["region:R01:2026-Q4"][0] == 3
    assert first["org:all:2026-Q4"][0] == 3
    # (3 + 1 + 2 + 2 + 2) / 5 answered, the skipped answer left out
    assert first["site:S0001:2026-11"][1] == 2.0
    publisher.flush()


# What a site roll-up's readers and announcements show, compared with a recount.
FIGURES = ("checks", "score", "share_good", "questions", "answered_by", "latest_received_at")


def _store(db) -> RollupStore:
    store = RollupStore(db)
    store.ensure_indexes()
    return store


def _announcing(announced: dict) -> type[AggregateHandler]:
    """A handler class that keeps each roll-up it announces in ``announced``, by id."""

    class Watching(AggregateHandler):
        def _announce(self, rollups):
            announced.update((r["_id"], r) for r in rollups)

    return Watching


def _figures(doc: dict) -> dict:
    return {k: doc[k] for k in FIGURES}


def test_a_site_quarter_is_the_sum_of_its_stored_months_for_the_worker_and_the_readers(db):
    """Not stored: announced from the sum the worker holds (rebuilt from the months after a restart, a
    redelivery not counted) and summed by the readers; both what counting the quarter's checks gives."""
    store, announced = _store(db), {}
    Watching = _announcing(announced)
    a, b = builders.validated(), builders.validated(visited_on="2026-10-31", scores=(1, 1, 1))
    Watching(store, SiteDirectory(db), publisher=None).handle(builders.deliveries(a, b))
    assert announced["site:S0001:2026-Q4"]["checks"] == 2
    c = builders.validated(visited_on="2026-12-02", scores=(3, 3, 3))
    Watching(store, SiteDirectory(db), publisher=None).handle(builders.deliveries(a, c))  # restarted; a again
    recount = store.site_rollups_from_facts({("S0001", "R01", "2026-Q4")})[0]
    assert recount["checks"] == 3
    assert _figures(announced["site:S0001:2026-Q4"]) == _figures(recount)
    assert _figures(store.rollup("site", "S0001", "2026-Q4")) == _figures(recount)
    assert [m["checks"] for m in store.region_members("R01", "2026-Q4")] == [3]
    assert store.rollups.find_one({"_id": "site:S0001:2026-Q4"}) is None
    assert store.rollup("region", "R01", "2026-Q4")["checks"] == 3


def test_site_rollups_stored_before_they_were_counted_are_removed_once(db):
    store = RollupStore(db)
    old = [rollup_rules.site_rollup("S0001", "R01", p, []) for p in ("2026-Q3", "2026-W36", "2026-09")]
    region = rollup_rules.region_rollup("R01", "2026-09", [])
    store.rollups.insert_many([*old, region])
    store.ensure_indexes()
    assert [d["_id"] for d in store.rollups.find()] == [region["_id"]]
    store.rollups.insert_many(old)  # once: the next start does not look again
    store.ensure_indexes()
    assert store.rollups.count_documents({}) == 4


def test_a_site_week_is_counted_from_its_facts_for_the_worker_and_the_readers(db):
    """Not stored: announced from the week the worker holds (counted from the stored facts after a restart, a
    redelivery not counted twice), counted by the readers, and the region's week sum agrees."""
    store, announced = _store(db), {}
    Watching = _announcing(announced)
    week = "2026-W46"  # builders.validated(): 2026-11-12
    a, b = builders.validated(), builders.validated(site="S0002", visited_on="2026-11-10")
    first = Watching(store, SiteDirectory(db), publisher=None, sole_writer=True)
    first.handle(builders.deliveries(a, b))
    assert announced[f"site:S0001:{week}"]["checks"] == 1
    c = builders.validated(visited_on="2026-11-13", scores=(3, 3, 3))
    first.handle(builders.deliveries(c))  # the week held
    assert announced[f"site:S0001:{week}"]["checks"] == 2
    d = builders.validated(visited_on="2026-11-11", scores=(1, 1, 1))
    Watching(store, SiteDirectory(db), publisher=None, sole_writer=True).handle(builders.deliveries(a, d))  # restarted
    recount = store.site_rollups_from_facts({("S0001", "R01", week)})[0]
    assert recount["checks"] == 3
    assert _figures(announced[f"site:S0001:{week}"]) == _figures(recount)
    assert _figures(store.rollup("site", "S0001", week)) == _figures(recount)
    assert sorted((m["site_id"], m["checks"]) for m in store.region_members("R01", week)) == [
        ("S0001", 3),
        ("S0002", 1),
    ]
    assert store.rollups.find_one({"scope": "site", "period_kind": "week"}) is None
    region = store.rollup("region", "R01", week)
    assert (region["checks"], region["sites_checked"]) == (4, 2)
    assert region == {
        **rollup_rules.region_rollup("R01", week, store.region_members("R01", week)),
        **{k: region[k] for k in ("_id", "updated_at", "ticket") if k in region},
    }


def test_rollups_are_the_same_whichever_way_the_facts_are_read(db):
    """Recounting from the facts: few sites, one query per site; many, one range query, filtered. The same."""
    by_range, by_site = RollupStore(db, prefix="range_"), RollupStore(db, prefix="site_")
    by_range.per_site_max = 0  # always the range query
    first = [builders.validated(site=f"S000{n}", scores=(n % 3 + 1, 2, None)) for n in range(1, 10)]
    # Only the first and last site again: the range between them holds the other sites' facts.
    later = [
        builders.validated(site="S0001", scores=(1, 1, 1)),
        builders.validated(site="S0009", visited_on="2026-10-31"),
    ]
    figures = []
    for store in (by_range, by_site):
        store.ensure_indexes()
        facts = [rollup_rules.fact_from_validated(e["data"]) for e in first + later]
        store.save_facts(facts)
        recount = store.site_rollups_from_facts(rollup_rules.affected_keys(facts))
        figures.append({d["_id"]: (d["checks"], d["score"], d["questions"]) for d in recount})
    assert figures[0] == figures[1]
    assert figures[0]["site:S0001:2026-11"][0] == 2 and figures[0]["site:S0005:2026-11"][0] == 1
    assert figures[0]["site:S0009:2026-10"][0] == 1


@pytest.mark.parametrize("sole_writer", [True, False], ids=["sums-held-in-memory", "sums-from-the-database"])
def test_rollups_held_in_memory_equal_a_recount_from_the_facts(db, sole_writer):
    """Batches, redeliveries and a restart (nothing held) through the worker: every roll-up equals a recount."""
    store = RollupStore(db)
    store.ensure_indexes()
    checks = [
        builders.validated(
            site=f"S000{n % 4 + 1}", scores=(n % 3 + 1, (n + 1) % 3 + 1, None), visited_on=f"2026-11-{n % 9 + 1:02d}"
        )
        for n in range(24)
    ]
    announced = {}  # the site roll-ups as the worker holds them (with the ids of the facts they count)
    handler = _announcing(announced)(store, SiteDirectory(db), publisher=None, sole_writer=sole_writer)
    handler.handle(builders.deliveries(*checks[:10]))
    handler.handle(builders.deliveries(*checks[5:15]))  # half of it met again
    handler = _announcing(announced)(store, SiteDirectory(db), publisher=None, sole_writer=sole_writer)  # a restart
    handler.handle(builders.deliveries(*checks[12:24], checks[0]))
    stored = {**{d["_id"]: d for d in store.rollups.find()}, **announced}
    facts = [rollup_rules.fact_from_validated(e["data"]) for e in checks]
    sites = {d["_id"]: d for d in store.site_rollups_from_facts(rollup_rules.affected_keys(facts))}
    figures = ("checks", "score", "questions", "answered_by", "latest_received_at")
    for rollup_id, recount in sites.items():
        assert {k: stored[rollup_id][k] for k in figures} == {k: recount[k] for k in figures}
        assert sorted(stored[rollup_id]["fact_ids"]) == sorted(recount["fact_ids"])
    for region, period in {("R01", p) for _s, _r, p in rollup_rules.affected_keys(facts)}:
        members = [d for d in sites.values() if d["period"] == period]
        expected = rollup_rules.region_rollup(region, period, members)
        assert {k: stored[f"region:{region}:{period}"][k] for k in figures} == {k: expected[k] for k in figures}
        org = rollup_rules.org_rollup(period, [expected])
        assert {k: stored[f"org:all:{period}"][k] for k in figures} == {k: org[k] for k in figures}
    assert stored["org:all:2026-11"]["checks"] == 24


def _sums_equal_a_recount(store: RollupStore, checks: list[dict]) -> None:
    """Every region and organisation roll-up stored is the sum of the site roll-ups recounted from the facts."""
    stored = {d["_id"]: d for d in store.rollups.find()}
    facts = [rollup_rules.fact_from_validated(e["data"]) for e in checks]
    sites = store.site_rollups_from_facts(rollup_rules.affected_keys(facts))
    figures = ("checks", "score", "questions", "answered_by", "latest_received_at")
    for period in {d["period"] for d in sites}:
        regions = []
        for region in sorted({d["region_id"] for d in sites if d["period"] == period}):
            members = [d for d in sites if d["period"] == period and d["region_id"] == region]
            regions.append(rollup_rules.region_rollup(region, period, members))
            assert {k: stored[f"region:{region}:{period}"][k] for k in figures} == {k: regions[-1][k] for k in figures}
        org = rollup_rules.org_rollup(period, regions)
        assert {k: stored[f"org:all:{period}"][k] for k in figures} == {k: org[k] for k in figures}


def test_sums_held_between_commits_are_written_by_flush_and_summed_again_after_a_crash(db):
    """The worker writes its region and organisation sums once per commit interval (``flush``), not every
    batch. A crash before the flush loses them with their batches' offsets (never committed before a flush):
    the batches are replayed, nothing counts twice, and the sums come out as a recount says."""
    store = RollupStore(db)
    store.ensure_indexes()
    checks = [
        builders.validated(site=f"S000{n % 4 + 1}", region=f"R0{n % 2 + 1}", scores=(n % 3 + 1, 2, None))
        for n in range(24)
    ]
    handler = AggregateHandler(store, SiteDirectory(db), publisher=None, sole_writer=True, defer_sums=True)
    handler.handle(builders.deliveries(*checks[:8]))
    assert handler.holds()
    assert store.rollups.find_one({"scope": {"$in": ["region", "org"]}}) is None  # held, not written
    handler.flush()
    assert not handler.holds()
    _sums_equal_a_recount(store, checks[:8])
    handler.handle(builders.deliveries(*checks[8:16]))  # held; then the worker dies before its flush
    handler = AggregateHandler(store, SiteDirectory(db), publisher=None, sole_writer=True, defer_sums=True)
    handler.handle(builders.deliveries(*checks[8:16]))  # the replay from the last commit: counted already, summed again
    handler.handle(builders.deliveries(*checks[16:20]))
    handler.open.clear()  # a batch failed: what is held goes, but which sums are unwritten is not forgotten
    last = [c for c in checks[20:24] if c["data"]["region_id"] == "R01"]  # R02's sums: unwritten, not held
    handler.handle(builders.deliveries(*last))
    handler.flush()
    _sums_equal_a_recount(store, checks[:20] + last)
    assert store.rollups.find_one({"_id": "org:all:2026-11"})["checks"] == 22


@pytest.mark.parametrize("sole_writer", [True, False], ids=["sums-held-in-memory", "sums-from-the-database"])
def test_a_site_moved_to_another_region_mid_month_counts_each_check_in_its_own_region(db, sole_writer):
    """A check sent after its site moved to R02 counts in R02's sums, the one before in R01's, as counting the
    stored facts by region says; the site's own roll-up counts both, in the region it is in now."""
    store = RollupStore(db)
    store.ensure_indexes()
    handler = AggregateHandler(store, SiteDirectory(db), publisher=None, sole_writer=sole_writer)
    handler.handle(
        builders.deliveries(
            builders.validated(site="S0001", region="R01"), builders.validated(site="S0002", region="R02")
        )
    )
    moved = builders.validated(site="S0001", region="R02", visited_on="2026-11-13", received_at="2026-11-13T09:00:00Z")
    handler.handle(builders.deliveries(moved))
    for region in ("R01", "R02"):
        for period in ("2026-11", "2026-W46", "2026-Q4"):
            summed = rollup_rules.region_rollup(region, period, store.region_members(region, period))
            stored = store.rollup("region", region, period)
            assert (stored["checks"], stored["sites_checked"]) == (summed["checks"], summed["sites_checked"])
    assert [store.rollup("region", r, "2026-11")["sites_checked"] for r in ("R01", "R02")] == [1, 2]
    assert store.rollup("region", "R02", "2026-11")["checks"] == 2
    assert store.rollup("org", "all", "2026-11")["checks"] == 3
    site = store.rollup("site", "S0001", "2026-11")
    assert (site["checks"], site["region_id"]) == (2, "R02")


def test_a_member_given_a_site_back_counts_what_the_member_before_stored(db):
    """After a rebalance, a member holds nothing it held before: the site's facts stored by the member that
    owned it meanwhile are counted."""
    store, announced = _store(db), {}
    a, b = builders.validated(), builders.validated(scores=(1, 1, 1))
    mine = _announcing(announced)(store, SiteDirectory(db), publisher=None, sole_writer=True)
    mine.handle(builders.deliveries(a))  # holds S0001's roll-ups counting a
    AggregateHandler(store, SiteDirectory(db), publisher=None).handle(builders.deliveries(b))  # the owner meanwhile
    mine.partitions_changed(owns_all=True)
    mine.handle(builders.deliveries(builders.validated(scores=(2, 2, 2))))
    assert announced["site:S0001:2026-11"]["checks"] == 3
    assert store.rollup("site", "S0001", "2026-11")["checks"] == 3
    assert store.rollup("region", "R01", "2026-11")["checks"] == 3


def test_site_rollups_are_announced_before_their_regions_are_summed(db):
    """A site's figures go out as soon as they are stored; the region and organisation sums follow."""
    store = RollupStore(db)
    store.ensure_indexes()
    announced = []

    class Watching(AggregateHandler):
        def _announce(self, rollups):
            stored_sums = store.rollups.count_documents({"scope": {"$in": ["region", "org"]}})
            announced.append(({r["scope"] for r in rollups}, len(rollups), stored_sums))

    Watching(store, SiteDirectory(db), publisher=None).handle(
        builders.deliveries(builders.validated(site="S0001"), builders.validated(site="S0002"))
    )
    # Two sites × week, month, quarter, announced once, before any region or organisation sum existed.
    assert announced[0] == ({"site"}, 6, 0)
    assert announced[1][0] == {"region", "org"}


def test_poison_events_go_to_the_dead_letter_topic_and_the_loop_goes_on(settings, publisher):
    topic = new_topic(settings, "qc.test")
    raw = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    good = events.make_event(
        "org.qc.directory.changed",
        source="t",
        subject="ok",
        data={"entity": "region", "id": "R1", "active": True, "name": "R"},
    )
    good = signing.sign(settings.secret_key, good)  # a directory event is applied only when signed
    bad = signing.sign(settings.secret_key, {**good, "id": "bad-1", "subject": "explode"})
    for value in (b"not json at all", events.encode(bad), events.encode(good)):
        raw.send(topic, key=b"k", value=value).get(timeout=10)
    raw.close()
    group = f"qc-test-{uuid.uuid4().hex[:6]}"
    handler = builders.Recorder(topic)
    loop = ConsumerLoop(settings, make_consumer(settings, group), group, handler, publisher)
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        wait_for(lambda: handler.seen == [good["id"]], 30, "the good event to be handled")
        dead = read_topic(
            settings, TOPICS["deadletter"], lambda evs: len([e for e in evs if e["data"]["topic"] == topic]) == 2
        )
    finally:
        loop.stop()
        thread.join(timeout=30)
    mine = sorted((e for e in dead if e["data"]["topic"] == topic), key=lambda e: e["data"]["offset"])
    assert "not valid JSON" in mine[0]["data"]["reason"]
    assert base64.b64decode(mine[0]["data"]["value_base64"]) == b"not json at all"
    # Where it failed, not what the exception said (messages can quote what a checker wrote).
    assert mine[1]["data"]["reason"].startswith("handler failed: ValueError at tests/")
    assert "cannot handle this one" not in mine[1]["data"]["reason"]
    assert mine[1]["data"]["group"] == group


def test_a_period_with_nothing_stored_needs_no_reads_and_a_stored_one_is_read(db):
    """A new period's site roll-ups count nothing stored before: they are made, not counted from the facts;
    after a restart, a period with facts stored is counted from them."""
    store = RollupStore(db)
    store.ensure_indexes()
    asked = []
    count = store.site_rollups_from_facts
    store.site_rollups_from_facts = lambda keys, without=frozenset(): asked.extend(sorted(keys)) or count(keys, without)
    AggregateHandler(store, SiteDirectory(db), publisher=None).handle(builders.deliveries(builders.validated()))
    assert asked == []
    restarted = AggregateHandler(store, SiteDirectory(db), publisher=None)
    restarted.handle(builders.deliveries(builders.validated(scores=(1, 1, 1))))
    # Its week and month (the quarter's other months have nothing stored: not read).
    assert asked == [("S0001", "R01", "2026-11"), ("S0001", "R01", "2026-W46")]
    assert store.rollup("site", "S0001", "2026-11")["checks"] == 2


def test_a_batch_touching_more_roll_ups_than_are_held_is_counted_whole(db, monkeypatch):
    """More site roll-ups in one poll than the worker may hold: each is still counted and stored."""
    monkeypatch.setattr(state, "SITE_MONTHS_HELD", 4)
    store = RollupStore(db)
    store.ensure_indexes()
    handler = AggregateHandler(store, SiteDirectory(db), publisher=None, sole_writer=True)
    handler.handle(
        builders.deliveries(*[builders.validated(site=f"S000{n}") for n in range(1, 5)])
    )  # 4 sites x 3 periods
    assert [store.rollup("site", f"S000{n}", "2026-11")["checks"] for n in range(1, 5)] == [1, 1, 1, 1]
    assert store.rollup("org", "all", "2026-11")["checks"] == 4


def test_a_site_week_let_go_is_counted_from_its_facts_again_and_no_other_week_of_that_week_is_read(db, monkeypatch):
    """A partition behind the others brings checks of a week whose site weeks were let go (held: 2 here): only
    the site whose week was let go is counted from the stored facts, a site new to the week is not read."""
    monkeypatch.setattr(state, "SITE_WEEKS_HELD", 2)
    store, announced = _store(db), {}
    read = []
    counted_from_facts = store.site_rollups_from_facts
    store.site_rollups_from_facts = lambda keys, without=frozenset(): (
        read.extend(sorted(keys)) or counted_from_facts(keys, without)
    )
    handler = _announcing(announced)(store, SiteDirectory(db), publisher=None, sole_writer=True)
    week = "2026-W46"  # 2026-11-09 to 2026-11-15
    handler.handle(builders.deliveries(builders.validated(site="S0001", visited_on="2026-11-10")))
    handler.handle(
        builders.deliveries(*[builders.validated(site=s, visited_on="2026-11-11") for s in ("S0002", "S0003")])
    )
    handler.handle(builders.deliveries(builders.validated(site="S0004", visited_on="2026-11-12")))
    assert read == []  # S0001's week let go; S0004's week was never stored
    handler.handle(builders.deliveries(builders.validated(site="S0001", visited_on="2026-11-13", scores=(1, 1, 1))))
    assert read == [("S0001", "R01", week)]
    recount = store.site_rollups_from_facts({("S0001", "R01", week)})[0]
    assert recount["checks"] == 2
    assert _figures(announced[f"site:S0001:{week}"]) == _figures(recount)
    assert store.rollup("region", "R01", week)["checks"] == 5
    handler.flush()
    assert store.rollup("region", "R01", week)["checks"] == 5
