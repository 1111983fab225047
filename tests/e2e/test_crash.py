"""Crash safety: kill -9 the processes of the stack at random points while a few thousand checks flow.

One run on a stack of its own (crash_tools.crash_stack): 2,000 generated
checks, with urgent concerns, unknown questions (rejected), repeats of the same
submission_id and copies under a new id (rejected as duplicates), are POSTed
through the intake API while each worker is killed with SIGKILL three times,
each web service and the SMTP sink too, and `make run`'s supervisor
(qc_tools/supervisor.py) starts each again. When the pipeline is quiet, the tests
below check from the database and the topics that every accepted check was
decided once, counted once, and alerted once, and that nothing was lost. The
figures are printed. (The broker's own crash, which loses its in-memory log,
is tests/e2e/test_supervisor.py; this stack's database is in memory.)
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import random
import threading
import time
import uuid
from collections import Counter, defaultdict

import pytest
from pymongo import MongoClient

from qc import periods
from qc.settings import TOPICS
from qc_tools.demo_checks import generate
from services.checks.stores import submissions as checks_store
from tests.conftest import wait_for
from tests.e2e import crash_tools

# Start-up, load, kills and the wait for quiet take 3–5 minutes on a 2-core
# machine (the database is the bottleneck); the deadline leaves room for one
# busy with other work too.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SEED = 7
SITES = 60
COUNT = 2000  # generated checks, before repeats and copies
RATE = 40.0  # POSTs a second: the workers fall behind, so kills land mid-batch
URGENT, FUTURE, COPIES, REPEATS = 8, 10, 10, 20
KILLS_PER_WORKER = 3
WORKERS = ("checks-worker", "aggregate-worker", "notify-worker")
OTHER_KILLS = {"checks-web": 2, "aggregate-web": 1, "notify-web": 1, "smtp": 1}
KILLED = (*WORKERS, *OTHER_KILLS)
QUIET_TIMEOUT = 420
SAFETY = ("feel-safe", "respect")  # safety: true in schemas/question-sets/everyday-life.v1.json
BANDS = {3: "good", 2: "ok", 1: "not_good", None: "skipped"}
CONCERN = "I am worried about what happens at night."


@dataclasses.dataclass
class Run:
    """What was sent, what was killed, and where to look afterwards."""

    items: list[tuple[str, dict]]
    statuses: dict[int, int]
    retries: int
    kills: Counter
    load_seconds: float
    quiet_seconds: float
    future: set[str]
    db: object
    stack: object
    region_of: dict[str, str]
    unanswered: set[int] = dataclasses.field(default_factory=set)  # POSTs that once got no answer at all
    figures: dict = dataclasses.field(default_factory=dict)

    @property
    def bodies(self) -> dict[str, dict]:
        """Each submission sent, by id."""
        return {body["submission_id"]: body for _token, body in self.items}

    @property
    def accepted(self) -> set[str]:
        """Submission ids that got a 202 at least once."""
        return {self.items[i][1]["submission_id"] for i, status in self.statuses.items() if status == 202}


def _plan(creds: dict, today: dt.date) -> tuple[list[tuple[str, dict]], set[str]]:
    """The POSTs in order, and the ids with a question not on the form (the validator rejects those).

    (Not a future visit: intake refuses those itself with a 422.)
    """
    # Not random.Random(SEED): generate() draws its submission ids from that very stream.
    rng = random.Random(f"crash-plan-{SEED}")
    base = generate(creds, COUNT, seed=SEED, today=today)
    special = rng.sample(range(COUNT), URGENT + FUTURE + COPIES + REPEATS)
    urgent, future = special[:URGENT], special[URGENT : URGENT + FUTURE]
    copies, repeats = special[URGENT + FUTURE : -REPEATS], special[-REPEATS:]
    for i in urgent:
        base[i][1]["urgent_concern"] = CONCERN
    for i in future:
        base[i][1]["answers"][0]["question_id"] = "not-on-this-form"
    keyed = [(float(i), item) for i, item in enumerate(base)]
    for i in copies:  # the same check under a new id: one of the two is rejected as a duplicate
        token, body = base[i]
        again = copy.deepcopy(body)
        again["submission_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        keyed.append((rng.uniform(i + 100, COUNT + 100), (token, again)))
    for i in repeats:  # the same POST again (a phone retrying): the same answer, no second event
        keyed.append((rng.uniform(i + 100, COUNT + 100), base[i]))
    keyed.sort(key=lambda pair: pair[0])
    return [item for _key, item in keyed], {base[i][1]["submission_id"] for i in future}


def _kill_plan() -> list[tuple[float, str]]:
    """(seconds after the load starts, process): random points, reproducible."""
    rng = random.Random(f"crash-kills-{SEED}")
    window = COUNT / RATE + 15
    times = {**{name: KILLS_PER_WORKER for name in WORKERS}, **OTHER_KILLS}
    return sorted((rng.uniform(3, window), name) for name, n in times.items() for _ in range(n))


def _quiet(stack, db, kills: Counter) -> bool:
    """Every group has committed every event, and nothing is undecided, unrouted or unsent."""
    exits = Counter(e["process"] for e in crash_tools.supervisor_log(stack) if e["event"] == "exited")
    if exits != kills:  # a process that stopped by itself is a finding
        pytest.fail(f"exits {dict(exits)} are not the kills {dict(kills)}; see {stack.var_dir}/log")
    if any(crash_tools.lag(stack.settings).values()):
        return False
    return (
        len(checks_store.decided(db)) == db["submissions"].count_documents({})
        and db["alerts"].count_documents({"routed": False}) == 0
        and db["deliveries"].count_documents({"channel": "email", "status": {"$in": ["pending", "failed"]}}) == 0
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory, report):
    """Send the checks, kill the processes as planned, and wait until the pipeline is quiet."""
    var = tmp_path_factory.mktemp("crash")
    with crash_tools.crash_stack(var) as stack:
        credentials = var / "crash-credentials.json"
        stack.run_cli("demo-seed", "--sites", str(SITES), "--credentials", str(credentials))
        stack.start_services()
        stack.wait_ready(timeout=120)
        creds = json.loads(credentials.read_text())
        items, future = _plan(creds, dt.date.today())
        client = MongoClient(stack.settings.mongo_uri, tz_aware=True)
        try:
            with crash_tools.supervised(stack):  # as `make run` does: each killed process is started again
                result, sender = _load_kill_and_settle(stack, client[stack.settings.mongo_db], items, future)
            result.figures = _figures(result)
            _print(report, result, sender.errors)
            yield result
        finally:
            client.close()


def _load_kill_and_settle(stack, db, items, future) -> tuple[Run, crash_tools.Sender]:
    """Send the load, kill as planned, and wait until the pipeline is quiet."""
    region_of = {s["_id"]: s["region_id"] for s in db["sites"].find({}, {"region_id": 1})}
    sender = crash_tools.Sender(stack.urls()["checks"], items, RATE)
    kills: Counter = Counter()
    joined_from = {name: 0 for name in WORKERS}  # log offset after which the worker must have joined
    started = time.monotonic()
    sender.start()
    clock = threading.Event()  # never set: waits below are for the planned moment, not for a condition
    for at, name in _kill_plan():
        clock.wait(max(0.0, started + at - time.monotonic()))
        if name in WORKERS:
            # Kill a member that is working, not one still joining the group after its last restart.
            wait_for(lambda n=name: crash_tools.joined_since(stack, n, joined_from[n]), 90, f"{name} to join")
            joined_from[name] = crash_tools.log_size(stack, name)
        crash_tools.kill_and_wait_for_restart(stack, name)
        kills[name] += 1
    sender.join(timeout=600)
    assert not sender.is_alive(), "the load did not finish"
    load_seconds = time.monotonic() - started
    settled = time.monotonic()
    streak = []  # quiet at two polls in a row: nothing was in flight between them

    def settled_down():
        streak.append(_quiet(stack, db, kills))
        return streak[-2:] == [True, True]

    wait_for(settled_down, QUIET_TIMEOUT, "the pipeline to be quiet", interval=2)
    result = Run(
        items,
        dict(sender.statuses),
        sender.retries,
        kills,
        load_seconds,
        time.monotonic() - settled,
        future,
        db,
        stack,
        region_of,
        unanswered=set(sender.unanswered),
    )
    return result, sender


def _validated(run: Run) -> dict[str, dict]:
    return {i: d for i, d in checks_store.decided(run.db).items() if d["status"] == "validated"}


def _content(body: dict) -> str:
    keep = ("site_id", "visited_on", "answers", "working", "not_working", "urgent_concern")
    return json.dumps({k: body[k] for k in keep}, sort_keys=True)


def _expected_validated(run: Run) -> dict[str, list[str]]:
    """Content of each check that should count once -> the accepted ids that carry it."""
    groups = defaultdict(list)
    for sid in sorted(run.accepted - run.future):
        groups[_content(run.bodies[sid])].append(sid)
    return groups


def _safety_not_good(body: dict) -> bool:
    return any(a["question_id"] in SAFETY and a["score"] == 1 for a in body["answers"])


def _figures(run: Run) -> dict:
    """Every figure the report prints and the tests assert on."""
    db, bodies, accepted = run.db, run.bodies, run.accepted
    decided = checks_store.decided(db)
    validated = {sid for sid, d in decided.items() if d["status"] == "validated"}
    facts = {d["_id"] for d in db["agg_facts"].find({}, {"_id": 1})}
    site_checks = crash_tools.checks_in_month_sums(db)
    alerts = list(db["alerts"].find())
    per_key = Counter(a["key"] for a in alerts)
    open_per_key = Counter(a["key"] for a in alerts if a["status"] in ("open", "acknowledged"))
    in_safety_alerts = {sid for a in alerts if a["rule"] == "safety_not_good" for sid in a["submission_ids"]}
    in_urgent_alerts = {sid for a in alerts if a["rule"] == "urgent_concern" for sid in a["submission_ids"]}
    concerns = {sid for sid in validated if bodies[sid]["urgent_concern"]}
    safety_expected = {sid for sid in validated if _safety_not_good(bodies[sid])}
    deliveries = list(db["deliveries"].find({"channel": "email"}))
    per_delivery = Counter((d["alert_id"], d["purpose"], d["person_id"]) for d in deliveries)
    mails = crash_tools.alert_mails(run.stack.var_dir / "mail")
    received = Counter(e["data"]["submission_id"] for e in crash_tools.read_all(run.stack.settings, TOPICS["received"]))
    raised = Counter(
        e["data"]["alert_id"]
        for e in crash_tools.read_all(run.stack.settings, TOPICS["alerts"])
        if e["type"] == "org.qc.alert.raised"
    )
    decisions = {
        kind: Counter(e["data"]["submission_id"] for e in crash_tools.read_all(run.stack.settings, TOPICS[kind]))
        for kind in ("validated", "rejected")
    }
    return {
        "posts": len(run.items),
        "sent": len(bodies),
        "accepted": len(accepted),
        "refused": sum(1 for s in run.statuses.values() if s != 202),
        "processed": len(decided.keys() & accepted),
        "validated": len(validated),
        "rejected": len(decided) - len(validated),
        "lost_undecided": sorted(accepted - decided.keys()),
        "decided_not_accepted": sorted(decided.keys() - accepted),
        "lost_facts": sorted(validated - facts),
        "facts_not_validated": sorted(facts - validated),
        "rollup_checks": site_checks,
        "alerts": len(alerts),
        "duplicate_alert_keys": sorted(k for k, n in per_key.items() if n > 1),
        "open_per_key_over_1": sorted(k for k, n in open_per_key.items() if n > 1),
        "urgent_alerts": sum(1 for a in alerts if a["rule"] == "urgent_concern"),
        "safety_alerts": sum(1 for a in alerts if a["rule"] == "safety_not_good"),
        "safety_submissions": len(safety_expected),
        "lost_safety": sorted(safety_expected - in_safety_alerts),
        "concerns": len(concerns),
        "lost_concerns": sorted(concerns - in_urgent_alerts),
        "deliveries": len(deliveries),
        "duplicate_deliveries": sorted(k for k, n in per_delivery.items() if n > 1),
        "mails": sum(mails.values()),
        "repeated_mails": sum(n - 1 for n in mails.values()),
        "received_events": sum(received.values()),
        "received_twice": sorted(sid for sid, n in received.items() if n > 1),
        "decision_events": sum(sum(c.values()) for c in decisions.values()),
        "redelivered": sum(n - 1 for c in decisions.values() for n in c.values()),
        "both_decisions": sorted(decisions["validated"].keys() & decisions["rejected"].keys()),
        "dead_letters": len(crash_tools.read_all(run.stack.settings, TOPICS["deadletter"])),
        # The broker was not killed: the outbox must not have taken anything for lost.
        "log_went_back": sum(
            "log went back" in line
            for line in (run.stack.var_dir / "log" / "checks-worker.log").read_text(errors="replace").splitlines()
        ),
        # Proof that kills landed mid-batch: work done again after a restart (harmless, being idempotent).
        "facts_again": crash_tools.facts_handled_again(run.stack),
        "alerts_announced_again": sum(n - 1 for n in raised.values()),
        "mails_by_alert": mails,
        "decided": decided,
        "decision_ids": decisions,
        "received_ids": received,
    }


def _print(report, run: Run, errors: list[str]) -> None:
    f = run.figures
    lost = len(f["lost_undecided"]) + len(f["lost_facts"]) + len(f["lost_safety"]) + len(f["lost_concerns"])
    duplicated = (
        max(f["rollup_checks"] - f["validated"], 0)
        + len(f["duplicate_alert_keys"])
        + len(f["duplicate_deliveries"])
        + len(f["received_twice"])
    )
    kills = ", ".join(f"{name} {run.kills[name]}" for name in KILLED)
    lines = [
        f"crash test (seed {SEED}, {SITES} sites): {f['posts']} POSTs of {f['sent']} submissions in "
        f"{run.load_seconds:.1f} s; accepted {f['accepted']}, refused {f['refused']} (after {run.retries} retries)",
        f"  kills (SIGKILL, then started again by the supervisor): {kills}; {sum(run.kills.values())} in all; "
        f"quiet {run.quiet_seconds:.1f} s after the load",
        f"  processed {f['processed']} (validated {f['validated']}, rejected {f['rejected']}); "
        f"lost {lost}; duplicated {duplicated}",
        f"  roll-ups: {f['rollup_checks']} checks in the organisation's month roll-ups for {f['validated']} validated",
        f"  alerts: {f['alerts']} ({f['urgent_alerts']} urgent for {f['concerns']} concerns, "
        f"{f['safety_alerts']} safety for {f['safety_submissions']} 'not good' submissions); "
        f"duplicate keys {len(f['duplicate_alert_keys'])}",
        f"  e-mail: {f['deliveries']} deliveries, duplicate {len(f['duplicate_deliveries'])}; "
        f"{f['mails']} alert e-mails received, {f['repeated_mails']} sent again after a kill",
        f"  topics: {f['received_events']} received events ({len(f['received_twice'])} twice); "
        f"{f['decision_events']} validated/rejected events; "
        f"dead letters {f['dead_letters']}",
        f"  handled again after a kill: {f['redelivered']} decisions re-published, {f['facts_again']} validated events "
        f"met again by aggregate, {f['alerts_announced_again']} alerts re-announced (idempotent: no effect twice)",
    ]
    if errors:
        lines.append(f"  first answers other than 202: {errors[:3]}")
    for line in lines:
        report(line)


def test_every_accepted_submission_is_decided_once(run):
    """Each 202 ends validated or rejected (with the reason), and identical checks count once."""
    f = run.figures
    assert f["refused"] == 0, "a phone retrying gave up on a check"
    assert f["lost_undecided"] == [], "accepted but never validated or rejected"
    assert f["decided_not_accepted"] == []
    assert f["both_decisions"] == [], "the first decision did not stand"
    decided = f["decided"]
    for sid in run.future:
        assert [r["code"] for r in decided[sid]["reasons"]] == ["question_unknown"]
    for ids in _expected_validated(run).values():
        # One of each set of identical checks counts; the others are rejected as duplicates.
        statuses = sorted(decided[sid]["status"] for sid in ids)
        assert statuses == ["rejected"] * (len(ids) - 1) + ["validated"], [decided[sid] for sid in ids]
        for sid in ids:
            if decided[sid]["status"] == "rejected":
                assert [r["code"] for r in decided[sid]["reasons"]] == ["duplicate"], sid
    assert f["validated"] == len(_expected_validated(run))


def test_each_check_is_on_the_topics_once(run):
    """One received event per accepted check; its decision on one topic only; no dead letters."""
    f = run.figures
    # A check is published twice only when its web process was killed after the broker had it and
    # before the check's record said so, and the phone's retry then found the claim gone stale.
    unanswered = {run.items[i][1]["submission_id"] for i in run.unanswered}
    assert set(f["received_twice"]) <= unanswered, "a repeated POST or a crash produced a second received event"
    assert set(f["received_ids"]) == run.accepted
    for kind in ("validated", "rejected"):
        ids = {sid for sid, d in f["decided"].items() if d["status"] == kind}
        assert set(f["decision_ids"][kind]) == ids, kind
    assert f["dead_letters"] == 0, "a crash is no reason to dead-letter an event"
    assert f["log_went_back"] == 0, "the outbox took the broker's log for lost while only other processes were killed"


def test_rollups_count_each_validated_check_once(run):
    """Roll-ups equal an independent recount of what was sent, per region and month."""
    f = run.figures
    assert f["lost_facts"] == [] and f["facts_not_validated"] == []
    assert f["rollup_checks"] == f["validated"]
    # The independent recount: from what was sent, per region and month.
    expected = defaultdict(lambda: {"checks": 0, "questions": defaultdict(Counter)})
    for ids in _expected_validated(run).values():
        body = run.bodies[ids[0]]
        month = periods.periods_of(dt.date.fromisoformat(body["visited_on"]))["month"]
        counts = expected[(run.region_of[body["site_id"]], month)]
        counts["checks"] += 1
        for answer in body["answers"]:
            counts["questions"][answer["question_id"]][BANDS[answer["score"]]] += 1
    stored = {
        (d["region_id"], d["period"]): d
        for d in run.db["agg_rollups"].find({"scope": "region", "period_kind": "month"})
    }
    assert {k for k, d in stored.items() if d["checks"]} == set(expected)
    for key, counts in expected.items():
        assert stored[key]["checks"] == counts["checks"], key
        for question, bands in counts["questions"].items():
            got = {band: stored[key]["questions"][question][band] for band in BANDS.values()}
            assert got == {band: bands[band] for band in BANDS.values()}, (key, question)


def test_one_alert_per_key_and_per_urgent_concern(run):
    """No alert key is raised twice; every urgent concern is one alert of its own."""
    f = run.figures
    assert f["duplicate_alert_keys"] == []
    assert f["open_per_key_over_1"] == []
    validated = _validated(run)
    concerns = sorted(sid for sid in validated if run.bodies[sid]["urgent_concern"])
    urgent = list(run.db["alerts"].find({"rule": "urgent_concern"}))
    assert f["lost_concerns"] == []
    assert sorted(sid for a in urgent for sid in a["submission_ids"]) == concerns
    assert len(concerns) >= URGENT


def test_no_safety_answer_is_lost(run):
    """Every validated 'not good' safety answer is in its site and month's alert, and nothing else is."""
    f = run.figures
    assert f["lost_safety"] == [], "validated 'not good' safety answers in no alert"
    validated = _validated(run)
    expected = defaultdict(set)
    for sid in validated:
        body = run.bodies[sid]
        if _safety_not_good(body):
            month = periods.periods_of(dt.date.fromisoformat(body["visited_on"]))["month"]
            expected[f"safety_not_good:{body['site_id']}:{month}"].add(sid)
    alerts = {a["key"]: set(a["submission_ids"]) for a in run.db["alerts"].find({"rule": "safety_not_good"})}
    assert alerts == expected


def test_each_person_is_emailed_once_per_alert(run):
    """One delivery per person per alert, each sent; e-mails sent twice only by a kill mid-send."""
    f = run.figures
    assert f["duplicate_deliveries"] == []
    people = list(run.db["people"].find({"role": {"$in": ["site_manager", "regional_manager", "safeguarding_lead"]}}))
    lead = {p["_id"] for p in people if p["role"] == "safeguarding_lead"}
    sent = defaultdict(set)
    for d in run.db["deliveries"].find({"channel": "email", "purpose": "alert"}):
        sent[d["alert_id"]].add((d["person_id"], d["status"], d["address"]))
    for alert in run.db["alerts"].find({"rule": {"$in": ["urgent_concern", "safety_not_good"]}}):
        wanted = {p["_id"] for p in people if p["role"] == "site_manager" and p["site_id"] == alert["site_id"]}
        wanted |= {p["_id"] for p in people if p["role"] == "regional_manager" and p["region_id"] == alert["region_id"]}
        if alert["rule"] == "urgent_concern":
            wanted |= lead
        assert {person for person, _status, _address in sent[alert["_id"]]} == wanted, alert["key"]
        assert {status for _person, status, _address in sent[alert["_id"]]} == {"sent"}, alert["key"]
        for _person, _status, address in sent[alert["_id"]]:
            assert f["mails_by_alert"][(alert["_id"], address)] >= 1, (alert["key"], address)
    # An e-mail goes out before its delivery is marked sent, so a kill between the two may send it
    # again (at least once, as SMTP allows); at most one e-mail is in flight per kill.
    # The same when the SMTP sink is killed after it saved an e-mail and before it said so.
    assert f["repeated_mails"] <= run.kills["notify-worker"] + run.kills["smtp"]
