"""Retention over the real database: old submissions lose free text and checker identity, counts stay the same.

Each service's records are made by its own store code, then some are dated
back past ``QC_RETENTION_DAYS``. ``qc retention run`` must anonymise exactly
those (not the new ones, not open alerts), leave every roll-up figure and
feedback count as it was (also when recomputed), record that it ran (counts
only), and change nothing when run again.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from qc import events, periods, retention
from qc_tools import cli
from services.aggregate.rules import rollups as rollup_rules
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.fix_feedback import Feedback
from services.aggregate.stores.rollups import RollupStore
from services.aggregate.worker import AggregateHandler
from services.checks.stores import contributions
from services.checks.stores import submissions as checks_store
from services.checks.stores.outbox import EVENTS, ten_minutes
from services.checks.stores.profiles import Drafts
from services.notify.delivery.records import record_email
from services.notify.rules import alerts as alert_rules
from services.notify.stores.alerts import OPEN_STATUSES, AlertStore
from services.notify.stores.knowledge import Knowledge
from tests.conftest import wait_for

pytestmark = pytest.mark.integration

NOW = events.now()
OLD = NOW - dt.timedelta(days=800)  # past the default 730 days
NEW = NOW - dt.timedelta(days=10)
CONCERN = "The night staff shout at me."
COMMENT = "Jo in room 4 is not safe at night."
QUESTIONS = ("listened-to", "feel-safe", "home-clean")


def _validated(sid: str, at: dt.datetime, site: str = "S0001", checker: str = "C1") -> dict:
    """A validated submission with free text everywhere, shared with the checker's name."""
    scores = {"listened-to": 3, "feel-safe": 1, "home-clean": None}
    return {
        "submission_id": sid,
        "checker_id": checker,
        "site_id": site,
        "region_id": "R01",
        "question_set": {"id": "everyday-life", "version": 1},
        "visited_on": at.date().isoformat(),
        "answers": [
            {"question_id": q, "score": scores[q], "comment": COMMENT, "safety": q == "feel-safe", "share": "named"}
            for q in QUESTIONS
        ],
        "working": ["Staff are kind"],
        "not_working": ["Dinner is cold"],
        "urgent_concern": CONCERN,
        "answered_by": "with_supporter",
        "texts_share": "named",
        "urgent_concern_share": "named",
        "received_at": events.isoformat(at),
        "validated_at": events.isoformat(at),
        "content_hash": f"hash-{sid}",
    }


def _seed(db, settings) -> dict:
    """Records of every kind, old and new, made by each service's own code."""
    # checks: the submission records and the form's drafts
    submissions = checks_store.Submissions(db)
    for sid, at in (("old", OLD), ("new", NEW)):
        data = _validated(sid, at)
        received = {f: data.get(f) for f in checks_store._INTAKE_FIELDS} | {"submission_id": sid}
        # Claimed by intake first, keeping its event for the outbox (outbox.py), then decided.
        kept = events.make_event(
            "org.qc.submission.received", source="test", subject=sid, data=data | {"submission_id": sid}, event_id=sid
        )
        submissions.claim(data | {"submission_id": sid}, kept, "corr", stale_after=60)
        submissions.record_decision(received, "validated", [], "R01")
        # Kept since its claim at ``at``: the outbox had not let go of it (a consumer group stuck all along).
        submissions.outbox.keep(sid, data["site_id"], at, kept)
    drafts = Drafts(db)
    qs = {"id": "everyday-life", "version": 1}
    old_draft = drafts.start({"checker_id": "C1", "site_id": "S0001"}, qs)
    drafts.update("C1", old_draft["_id"], {"urgent_concern": CONCERN})
    db["drafts"].update_one({"_id": old_draft["_id"]}, {"$set": {"updated_at": OLD}})
    new_draft = drafts.start({"checker_id": "C1", "site_id": "S0001"}, qs)

    # aggregate: facts and their roll-ups, and "is it better now?" answers
    store = RollupStore(db)
    store.ensure_indexes()
    facts = [rollup_rules.fact_from_validated(_validated(sid, at)) for sid, at in (("old", OLD), ("new", NEW))]
    store.save_facts(facts)
    AggregateHandler(store, SiteDirectory(db), publisher=None).roll_up(facts)
    feedback = Feedback(db)
    for alert_id, at in (("A-old", OLD), ("A-new", NEW)):
        feedback.record(
            {"alert_id": alert_id, "checker_id": "C1", "site_id": "S0001", "region_id": "R01", "answer": "no"}
            | {"at": events.isoformat(at)}
        )

    # notify: alerts (closed and open), rejections, notes to supporters
    alerts = AlertStore(db)
    rules = alert_rules.load_rules(settings.alert_rules_path)
    made = {}
    for name, at, site, close in (
        ("old", OLD, "S0001", True),
        ("old_open", OLD, "S0002", False),
        ("new", NEW, "S0003", True),
    ):
        validated = _validated(f"a-{name}", at, site=site)
        (urgent,) = [c for c in alert_rules.evaluate(rules, validated) if c.rule.kind == "urgent_concern"]
        alert, _new = alerts.raise_or_join(urgent, {"urgent_concern": CONCERN})
        if close:
            alerts.transition(alert["_id"], OPEN_STATUSES, "resolved", "sm-s0001", {"response": "We talked to staff."})
        db["alerts"].update_one({"_id": alert["_id"]}, {"$set": {"raised_at": at}})
        made[name] = alert["_id"]
        record_email(db["deliveries"], alert["_id"], "response", "C1", "supporter@example.org", "sent", at)
    knowledge = Knowledge(db)
    for sid, at in (("r-old", OLD), ("r-new", NEW)):
        knowledge.note_rejection({"submission_id": sid, "checker_id": "C1", "rejected_at": events.isoformat(at)})
    return {"alerts": made, "drafts": (old_draft["_id"], new_draft["_id"]), "store": store, "facts": facts}


def _figures(rollup: dict) -> dict:
    """A roll-up without the bookkeeping of when and by which recompute it was written."""
    return {k: v for k, v in rollup.items() if k not in ("updated_at", "ticket", "fact_ids", "regions")}


def _snapshot(db) -> dict:
    """Every stored document of every collection retention may touch, for comparing runs."""
    names = (
        "submissions",
        "contribution_tallies",
        "drafts",
        "agg_facts",
        "agg_rollups",
        "agg_feedback",
        "alerts",
        "notify_rejections",
    )
    kept = tuple(n for n in db.list_collection_names() if n.startswith(f"{EVENTS}_2"))  # the outbox's ten minutes
    return {name: sorted(db[name].find(), key=lambda d: d["_id"]) for name in names + ("deliveries",) + kept}


def _feedback_counts(db) -> dict:
    feedback = Feedback(db)
    out = {}
    for at in (OLD, NEW):
        for period in periods.periods_of(at.date()).values():
            out[period] = (feedback.counts("site", "S0001", period), feedback.counts("org", "all", period))
    return out


def _cli(monkeypatch, capsys, settings, *args) -> str:
    monkeypatch.setenv("QC_MONGO_URI", settings.mongo_uri)
    monkeypatch.setenv("QC_MONGO_DB", settings.mongo_db)
    monkeypatch.setenv("QC_SECRET_KEY", settings.secret_key)
    assert cli.main(["retention", "run", *args]) == 0
    return capsys.readouterr().out


def test_old_records_lose_free_text_and_identity_and_counts_stay(db, settings, monkeypatch, capsys):
    seeded = _seed(db, settings)
    before = _snapshot(db)
    rollups_before = {d["_id"]: _figures(d) for d in before["agg_rollups"]}
    months = [f"site:{site}:{month}" for site, _region, month in rollup_rules.affected_keys(seeded["facts"])]
    sites_before = {i: _figures(d) for i, d in seeded["store"].rollups_by_id(months).items()}  # counted from facts
    assert len(sites_before) == len(months) >= 2
    feedback_before = _feedback_counts(db)
    record_before = contributions.record(contributions.Contributions(db), "C1")
    assert record_before.checks_done == 2

    dry = _cli(monkeypatch, capsys, settings, "--dry-run")
    assert "checks: would change submissions anonymised 1, drafts deleted 1, kept events deleted 1" in dry
    assert "aggregate: would change facts anonymised 1, feedback anonymised 1" in dry
    assert "notify: would change alerts anonymised 1, rejections anonymised 1, supporter notes deleted 2" in dry
    assert _snapshot(db) == before, "a dry run changed something"

    out = _cli(monkeypatch, capsys, settings)
    assert "checks: changed submissions anonymised 1, drafts deleted 1, kept events deleted 1" in out
    assert "aggregate: changed facts anonymised 1, feedback anonymised 1" in out
    assert "notify: changed alerts anonymised 1, rejections anonymised 1, supporter notes deleted 2" in out

    # checks
    old, new = db["submissions"].find_one({"_id": "old"}), db["submissions"].find_one({"_id": "new"})
    assert old["checker_id"] is None and "content_hash" not in old and old["anonymised_at"]
    # A kept event the outbox had not yet let go of (a consumer group stuck for the whole period) goes too.
    assert ten_minutes(db, EVENTS, OLD).name not in db.list_collection_names()
    assert ten_minutes(db, EVENTS, NEW).find_one({"_id": "new"})["event"]["id"] == "new"
    assert (old["site_id"], old["visited_on"]) == ("S0001", OLD.date().isoformat())
    assert checks_store.decided(db, ["old"])["old"]["status"] == "validated"  # the decision stays
    assert new == next(d for d in before["submissions"] if d["_id"] == "new")
    # the checker's record of their contribution still counts the anonymised check
    record_after = contributions.record(contributions.Contributions(db), "C1")
    assert (record_after.checks_done, record_after.first_check, record_after.latest_check) == (
        record_before.checks_done,
        record_before.first_check,
        record_before.latest_check,
    )
    old_draft, new_draft = seeded["drafts"]
    assert db["drafts"].find_one({"_id": old_draft}) is None
    assert db["drafts"].find_one({"_id": new_draft}) is not None

    # aggregate: no text, no name; the figures behind every roll-up unchanged, even recomputed
    old_fact = db["agg_facts"].find_one({"_id": "old"})
    assert (old_fact["comments"], old_fact["working"], old_fact["not_working"]) == ({}, [], [])
    assert "named_checker_id" not in old_fact
    assert old_fact["scores"] == seeded["facts"][0]["scores"]
    assert db["agg_facts"].find_one({"_id": "new"}) == next(d for d in before["agg_facts"] if d["_id"] == "new")
    assert {d["_id"]: _figures(d) for d in db["agg_rollups"].find()} == rollups_before
    recount = seeded["store"].site_rollups_from_facts(rollup_rules.affected_keys(seeded["facts"]))
    assert {d["_id"]: _figures(d) for d in recount} == sites_before
    assert _feedback_counts(db) == feedback_before
    assert db["agg_feedback"].find_one({"_id": "A-old:C1"}) is None
    assert db["agg_feedback"].count_documents({"_id": {"$regex": "^A-old:anonymous-"}}) == 1
    assert db["agg_feedback"].find_one({"_id": "A-new:C1"}) is not None

    # notify: the closed old alert is anonymised; the open one and the new one are not
    ids = seeded["alerts"]
    alert = db["alerts"].find_one({"_id": ids["old"]})
    assert "urgent_concern" not in alert["details"]
    assert alert["checker_id"] is None and alert["checker_ids"] == []
    assert all(v["checker_id"] is None and v["comment"] == "" and not v["named"] for v in alert["voices"])
    assert (alert["status"], alert["response"], alert["site_id"]) == ("resolved", "We talked to staff.", "S0001")
    for kept in ("old_open", "new"):
        assert db["alerts"].find_one({"_id": ids[kept]}) == next(d for d in before["alerts"] if d["_id"] == ids[kept])
    assert db["notify_rejections"].find_one({"_id": "r-old"})["checker_id"] is None
    assert db["notify_rejections"].find_one({"_id": "r-new"})["checker_id"] == "C1"
    notes = {d["alert_id"] for d in db["deliveries"].find({"purpose": "response"})}
    assert notes == {ids["new"]}
    assert CONCERN not in json.dumps(
        [db["alerts"].find_one({"_id": ids["old"]}), old_fact], default=str
    ) and COMMENT not in json.dumps(old_fact, default=str)

    # recorded, with counts only
    log = list(db[retention.LOG_COLLECTION].find({"dry_run": False}))
    assert {d["service"] for d in log} == {"checks", "aggregate", "notify"}
    for doc in log:
        assert set(doc) == {"_id", "service", "at", "cutoff", "counts", "dry_run"}
        assert all(isinstance(n, int) for n in doc["counts"].values())

    # a second run finds nothing to do and changes nothing
    after = _snapshot(db)
    again = _cli(monkeypatch, capsys, settings)
    assert "checks: changed submissions anonymised 0, drafts deleted 0, kept events deleted 0" in again
    assert "aggregate: changed facts anonymised 0, feedback anonymised 0" in again
    assert "notify: changed alerts anonymised 0, rejections anonymised 0, supporter notes deleted 0" in again
    assert _snapshot(db) == after


def test_zero_days_keeps_everything(db, settings, monkeypatch, capsys):
    _seed(db, settings)
    before = _snapshot(db)
    monkeypatch.setenv("QC_RETENTION_DAYS", "0")
    assert "retention is off" in _cli(monkeypatch, capsys, settings)
    assert _snapshot(db) == before


def test_a_worker_runs_it_once_a_day(db, settings):
    """The worker's job runs (on a thread of its own) when no run is recorded, then not until a day later."""
    from services.checks.jobs import retention as checks_retention

    def runs() -> int:
        return db[retention.LOG_COLLECTION].count_documents({"service": "checks"})

    checks_retention.job(settings, db)()
    wait_for(lambda: runs() == 1, 30, "the first run")
    fresh = checks_retention.job(settings, db)  # a restarted worker reads the last run from the log
    fresh()
    assert fresh._thread is None and runs() == 1
    db[retention.LOG_COLLECTION].update_many({}, {"$set": {"at": NOW - dt.timedelta(days=2)}})
    checks_retention.job(settings, db)()
    wait_for(lambda: runs() == 2, 30, "the next day's run")
