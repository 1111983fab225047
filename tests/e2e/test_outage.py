"""Database outage: intake refuses with 503 + Retry-After, workers wait, and nothing is lost or counted twice.

One run on a stack of its own whose database keeps its files on disk, so it
can be stopped and started again. Checks are sent through the intake API;
the database is stopped; events already accepted (received and validated,
published straight to the broker, as if accepted just before it went down)
are waiting for the three workers; intake is asked to take more and must
refuse; the database starts again and more checks are sent. When the
pipeline is quiet every accepted check must be decided once, stored once as a
fact, and counted once in the roll-ups, with nothing dead-lettered. The
figures are printed. Then the broker is stopped: intake refuses and records
nothing, readiness names the broker, and the workers keep running. The
embedded broker keeps everything in memory, so it comes back empty: once the
topics are made again, intake accepts and the workers process new checks
without being restarted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from pymongo import MongoClient

from qc import events
from qc.kafka import create_topics
from qc.settings import TOPICS
from qc_tools.demo_checks import generate
from services.checks.stores import submissions as checks_store
from services.checks.web import intake
from services.checks.web.schemas import SubmissionSchema
from tests.conftest import wait_for
from tests.e2e import crash_tools, own_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

SEED = 17
SITES = 6
BEFORE, DURING, AFTER = 40, 12, 40  # checks POSTed before, during and after the outage
IN_FLIGHT_RECEIVED, IN_FLIGHT_VALIDATED = 15, 15  # accepted before the outage, waiting for a worker during it
WORKERS = ("checks-worker", "aggregate-worker", "notify-worker")
GROUPS = {"checks-worker": "qc-checks", "aggregate-worker": "qc-aggregate", "notify-worker": "qc-notify"}
QUIET_TIMEOUT = 180


@dataclasses.dataclass
class Answer:
    """One POST's answer."""

    status: int
    seconds: float
    retry_after: str | None = None
    content_type: str = ""
    body: dict | None = None


@dataclasses.dataclass
class Outage:
    """What was sent and answered, and where to look afterwards."""

    bodies: dict[str, dict]  # submission_id -> body, for every check POSTed
    answers: dict[str, list[Answer]]  # submission_id -> each answer it got
    during: list[str]  # ids POSTed while the database was down
    in_flight_received: set[str]
    in_flight_validated: list[dict]  # validated events published during the outage
    region_of: dict[str, str]
    readiness: dict[str, dict]  # service -> its /readyz problem document during the outage
    ready_gauges: dict[str, float]
    page: tuple[int, str, str | None]  # the checker's start page during the outage: status, text, Retry-After
    db: object
    stack: object
    quiet_seconds: float = 0.0
    figures: dict = dataclasses.field(default_factory=dict)

    @property
    def accepted(self) -> set[str]:
        """Checks the system took responsibility for: a 202 from intake, or published before the outage."""
        posted = {sid for sid, answers in self.answers.items() if any(a.status == 202 for a in answers)}
        return posted | self.in_flight_received


def _post(url: str, token: str, body: dict, attempts: int = 1) -> list[Answer]:
    """POST a check as a phone would; with ``attempts`` > 1 it tries again after a 503 (same submission_id)."""
    answers = []
    for _ in range(attempts):
        started = time.monotonic()
        try:
            response = requests.post(
                f"{url}/api/v1/submissions", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
        except requests.RequestException:
            answers.append(Answer(0, time.monotonic() - started))
            continue
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        answer = Answer(
            response.status_code,
            time.monotonic() - started,
            response.headers.get("Retry-After"),
            response.headers.get("Content-Type", ""),
            parsed,
        )
        answers.append(answer)
        if answer.status != 503:
            break
        time.sleep(min(float(answer.retry_after or 1), 2.0))  # the client's back-off, not a wait for a condition
    return answers


def _post_all(url: str, items: list[tuple[str, dict]], attempts: int = 1) -> dict[str, list[Answer]]:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda item: _post(url, *item, attempts=attempts), items))
    return {body["submission_id"]: answers for (_token, body), answers in zip(items, results, strict=True)}


def _received_events(items: list[tuple[str, dict]], creds: dict) -> list[dict]:
    """``submission.received`` events for these checks, built by intake's own code as it publishes them."""
    checker_of = {c["token"]: c["checker_id"] for c in creds["checkers"]}
    out = []
    for token, body in items:
        received = intake._received(SubmissionSchema().load(body), checker_of[token])
        out.append(
            events.make_event(
                "org.qc.submission.received",
                source="qc/checks/intake",
                subject=received["submission_id"],
                data=received,
                event_id=received["submission_id"],
            )
        )
    return out


def _validated_events(count: int, today: dt.date) -> list[dict]:
    """Validated events for sites of their own (not in the directory), so their roll-ups are theirs alone."""
    rng = random.Random(f"outage-{SEED}")
    out = []
    for _ in range(count):
        event = own_stack.validated_event(rng, today, sites=4)
        event["data"]["site_id"] = event["data"]["site_id"].replace("S", "OUT-")
        out.append(event)
    return out


def _readiness(url: str) -> tuple[int, dict]:
    try:
        response = requests.get(f"{url}/readyz", timeout=30)
    except requests.RequestException:
        return 0, {}
    return response.status_code, response.json()


def _gauge(url: str, group: str) -> float | None:
    """``qc_consumer_ready`` of ``group`` as the service's /metrics shows it (web and worker share the directory)."""
    text = requests.get(f"{url}/metrics", timeout=30).text
    for line in text.splitlines():
        if line.startswith("qc_consumer_ready{") and f'group="{group}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


def _logged_since(stack, name: str, offset: int, message: str) -> bool:
    with open(stack.var_dir / "log" / f"{name}.log", "rb") as f:
        f.seek(offset)
        for raw in f.read().splitlines():
            if raw.startswith(b"{") and message.encode() in raw:
                return True
    return False


def _quiet(stack, db, expected_facts: int) -> bool:
    crashed = crash_tools.reap({n: stack.procs[n] for n in WORKERS})
    if crashed:
        pytest.fail(f"{crashed} exited on their own; see {stack.var_dir}/log")
    if any(crash_tools.lag(stack.settings).values()):
        return False
    return (
        len(checks_store.decided(db)) == db["submissions"].count_documents({})
        and db["agg_facts"].count_documents({}) >= expected_facts
    )


@pytest.fixture(scope="module")
def outage(tmp_path_factory, report):
    """Send checks, stop the database mid-stream, send more, start it again, send more; wait until quiet."""
    var = tmp_path_factory.mktemp("outage")
    with own_stack.own_stack(var, db_path=var / "db") as stack:
        credentials = var / "outage-credentials.json"
        stack.run_cli("demo-seed", "--sites", str(SITES), "--credentials", str(credentials))
        stack.start_services()
        stack.wait_ready(timeout=120)
        for name in WORKERS:  # the workers hold their partitions before the database goes
            wait_for(lambda n=name: crash_tools.joined_since(stack, n, 0), 90, f"{name} to join its group")
        creds = json.loads(credentials.read_text())
        urls = stack.urls()
        today = dt.date.today()
        items = generate(creds, BEFORE + DURING + AFTER + IN_FLIGHT_RECEIVED, seed=SEED, today=today)
        before, during, after, in_flight = (
            items[:BEFORE],
            items[BEFORE : BEFORE + DURING],
            items[BEFORE + DURING : BEFORE + DURING + AFTER],
            items[BEFORE + DURING + AFTER :],
        )
        client = MongoClient(stack.settings.mongo_uri, tz_aware=True, serverSelectionTimeoutMS=5000)
        publisher = own_stack.publisher_for(stack)
        try:
            db = client[stack.settings.mongo_db]
            region_of = {s["_id"]: s["region_id"] for s in db["sites"].find({}, {"region_id": 1})}
            answers = _post_all(urls["checks"], before)

            # The database goes while the workers are busy with what was just accepted.
            log_offsets = {name: crash_tools.log_size(stack, name) for name in WORKERS}
            db_argv = own_stack.stop_and_keep(stack, "database")
            validated = _validated_events(IN_FLIGHT_VALIDATED, today)
            for event in _received_events(in_flight, creds):
                publisher.send(TOPICS["received"], event["data"]["site_id"], event)
            own_stack.send_validated(publisher, validated)

            readiness = {}
            for service, url in urls.items():
                status, problem = wait_for(
                    lambda u=url: (got := _readiness(u))[0] == 503 and got, 60, f"{service} /readyz to say 503"
                )
                readiness[service] = problem
            answers.update(_post_all(urls["checks"], during))
            cookies = {"qc_checker": during[0][0]}
            page = requests.get(f"{urls['checks']}/", cookies=cookies, timeout=30)
            # Each worker met the outage and waits: with events in hand, or (aggregate, a moment earlier)
            # when it asked the database whether a replay wants it paused; both log "infrastructure unavailable".
            for name in WORKERS:
                wait_for(
                    lambda n=name: _logged_since(stack, n, log_offsets[n], "infrastructure unavailable"),
                    60,
                    f"{name} to meet the outage",
                )
            gauges = {}
            for name in WORKERS:
                url, group = urls[name.removesuffix("-worker")], GROUPS[name]
                wait_for(lambda u=url, g=group: _gauge(u, g) == 0.0, 30, f"{name} to report itself not ready")
                gauges[name] = _gauge(url, group)

            own_stack.restart(stack, "database", db_argv, _mongo_port(stack))
            stack.wait_ready(timeout=60)
            answers.update(_post_all(urls["checks"], after, attempts=3))

            run = Outage(
                bodies={body["submission_id"]: body for _token, body in before + during + after + in_flight},
                answers=answers,
                during=[body["submission_id"] for _token, body in during],
                in_flight_received={body["submission_id"] for _token, body in in_flight},
                in_flight_validated=validated,
                region_of=region_of,
                readiness=readiness,
                ready_gauges=gauges,
                page=(page.status_code, page.text, page.headers.get("Retry-After")),
                db=db,
                stack=stack,
            )
            settled = time.monotonic()
            expected_facts = len(run.accepted) + len(validated)
            streak = []  # quiet at two polls in a row: nothing was in flight between them

            def settled_down():
                streak.append(_quiet(stack, db, expected_facts))
                return streak[-2:] == [True, True]

            wait_for(settled_down, QUIET_TIMEOUT, "the pipeline to be quiet after the outage", interval=1)
            run.quiet_seconds = time.monotonic() - settled
            run.figures = _figures(run)
            _print(report, run)
            yield run
        finally:
            publisher.close()
            client.close()


def _mongo_port(stack) -> int:
    return int(stack.settings.mongo_uri.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def _as_validated(run: Outage, sid: str) -> dict:
    """What a validated event for a POSTed check carries that the roll-ups count."""
    body = run.bodies[sid]
    data = {k: body[k] for k in ("site_id", "visited_on", "answers")}
    return {"data": {**data, "submission_id": sid, "region_id": run.region_of[body["site_id"]]}}


def _figures(run: Outage) -> dict:
    db, accepted = run.db, run.accepted
    decided = {sid: d["status"] for sid, d in checks_store.decided(db).items()}
    facts = [d["_id"] for d in db["agg_facts"].find({}, {"_id": 1})]
    expected_facts = {sid for sid, status in decided.items() if status == "validated"} | {
        e["data"]["submission_id"] for e in run.in_flight_validated
    }
    received = crash_tools.read_all(run.stack.settings, TOPICS["received"])
    received_ids = [e["data"]["submission_id"] for e in received]
    expected_rollups = own_stack.recount(
        [_as_validated(run, sid) for sid, status in decided.items() if status == "validated"] + run.in_flight_validated
    )
    stored = own_stack.stored_rollups(db)
    wrong_rollups = sorted(
        k for k in expected_rollups.keys() | stored.keys() if expected_rollups.get(k) != stored.get(k)
    )
    during = [run.answers[sid][-1] for sid in run.during]
    return {
        "sent": len(run.bodies),
        "accepted": len(accepted),
        "refused_503": sum(1 for answers in run.answers.values() for a in answers if a.status == 503),
        "other_answers": sorted({a.status for answers in run.answers.values() for a in answers} - {202, 503}),
        "during": during,
        "processed": len(accepted & decided.keys()),
        "validated": sum(1 for status in decided.values() if status == "validated"),
        "lost": sorted(accepted - decided.keys()),
        "decided_not_accepted": sorted(decided.keys() - accepted),
        "facts": len(facts),
        "facts_twice": len(facts) - len(set(facts)),
        "missing_facts": sorted(expected_facts - set(facts)),
        "unexpected_facts": sorted(set(facts) - expected_facts),
        "received_twice": sorted({sid for sid in received_ids if received_ids.count(sid) > 1}),
        "received_not_accepted": sorted(set(received_ids) - accepted),
        "wrong_rollups": wrong_rollups,
        "rollup_checks": crash_tools.checks_in_month_sums(db),
        "dead_letters": crash_tools.read_all(run.stack.settings, TOPICS["deadletter"]),
    }


def _print(report, run: Outage) -> None:
    f = run.figures
    slowest = max((a.seconds for a in f["during"]), default=0.0)
    duplicated = f["facts_twice"] + len(f["received_twice"]) + max(f["rollup_checks"] - f["facts"], 0)
    report(
        f"database outage: sent {f['sent']} checks (+{IN_FLIGHT_VALIDATED} validated events in flight); "
        f"accepted {f['accepted']}; refused 503 {f['refused_503']} (slowest refusal {slowest:.1f} s); "
        f"processed {f['processed']} (validated {f['validated']}); lost {len(f['lost'])}; duplicated {duplicated}"
    )
    report(
        f"  facts {f['facts']}, roll-ups counting them {f['rollup_checks']} (organisation months), "
        f"roll-ups off {len(f['wrong_rollups'])}; dead letters {len(f['dead_letters'])}; "
        f"quiet {run.quiet_seconds:.1f} s after the database returned"
    )


def test_intake_refuses_with_503_and_retry_after_while_the_database_is_down(outage):
    """Every check sent during the outage is refused in time with a problem document, and none is accepted."""
    during = outage.figures["during"]
    assert len(during) == DURING
    for answer in during:
        assert answer.status == 503, answer
        assert answer.retry_after and int(answer.retry_after) > 0
        assert answer.content_type.startswith("application/problem+json")
        assert answer.body["status"] == 503 and answer.body["detail"]
    assert not outage.accepted & set(outage.during)
    assert outage.figures["other_answers"] == [], "answers other than 202 or 503"


def test_readiness_names_the_database(outage):
    """Each service's /readyz said 503 and named the database as what is down (the broker was fine)."""
    for service, problem in outage.readiness.items():
        assert problem["status"] == 503, service
        assert set(problem["down"]) == {"database"}, (service, problem)


def test_workers_report_not_ready_while_waiting(outage):
    """Each worker met the outage with events in hand and said it was not ready (qc_consumer_ready 0)."""
    assert outage.ready_gauges == dict.fromkeys(WORKERS, 0.0)


def test_the_form_says_calmly_to_try_again(outage):
    """The checker's page is a calm 'try again in a minute', not an error page."""
    status, text, retry_after = outage.page
    assert status == 503 and retry_after
    assert "We cannot save right now" in text and "Nothing you saved is lost" in text
    assert "Traceback" not in text and "Internal Server Error" not in text


def test_nothing_accepted_is_lost_or_counted_twice(outage):
    """accepted == decided == stored once; roll-ups equal a recount of what was accepted; nothing dead-lettered."""
    f = outage.figures
    assert f["accepted"] == BEFORE + AFTER + IN_FLIGHT_RECEIVED
    assert f["lost"] == [] and f["decided_not_accepted"] == []
    assert f["processed"] == f["accepted"] == f["validated"]
    assert f["facts_twice"] == 0 and f["missing_facts"] == [] and f["unexpected_facts"] == []
    assert f["received_twice"] == [] and f["received_not_accepted"] == []
    assert f["wrong_rollups"] == [], "roll-ups differ from a recount of the accepted checks"
    assert f["rollup_checks"] == f["facts"]
    assert f["dead_letters"] == [], "a database outage is no reason to dead-letter an event"


def test_each_worker_ran_its_daily_retention(outage):
    """Each worker ran its service's retention at start (none had run before) and recorded it, counts only."""
    log = list(outage.db["retention_log"].find({"dry_run": False}))
    assert {d["service"] for d in log} == {"checks", "aggregate", "notify"}
    assert all(set(d["counts"].values()) == {0} for d in log), "nothing here is old enough to anonymise"


# --- the broker goes (after the database's outage, on the same stack) ---------------------------------

BROKER_DURING = 5


@pytest.fixture(scope="module")
def broker_outage(outage, report):
    """Stop the broker: intake refuses, readiness names it, and the workers wait without exiting.

    The embedded broker keeps its log, committed offsets and producer state in
    memory, so it cannot come back as it was; with Apache Kafka it does, and
    the workers go on from their committed offsets (docs/operations.md).
    """
    stack, urls = outage.stack, outage.stack.urls()
    creds = json.loads((stack.var_dir / "outage-credentials.json").read_text())
    offsets = {name: crash_tools.log_size(stack, name) for name in WORKERS}
    broker_argv = own_stack.stop_and_keep(stack, "broker")
    readiness = {}
    for service, url in urls.items():
        _status, problem = wait_for(
            lambda u=url: (got := _readiness(u))[0] == 503 and got, 60, f"{service} /readyz to say 503"
        )
        readiness[service] = problem
    items = generate(creds, BROKER_DURING, seed=SEED + 1, today=dt.date.today())
    refused = _post_all(urls["checks"], items)
    for name in WORKERS:  # each worker's client has found the broker gone …
        wait_for(lambda n=name: _logged_since(stack, n, offsets[n], '"name": "kafka.'), 60, f"{name} to notice")
    alive = {name: stack.procs[name].poll() is None for name in WORKERS}  # … and has not given up
    slowest = max(a.seconds for answers in refused.values() for a in answers)
    report(
        f"broker outage: refused 503 {sum(1 for a in refused.values() if a[-1].status == 503)} of {len(refused)} "
        f"(slowest {slowest:.1f} s); workers still running: {sum(alive.values())} of {len(alive)}"
    )
    return {
        "readiness": readiness,
        "refused": refused,
        "alive": alive,
        "db": outage.db,
        "ids": items,
        "broker_argv": broker_argv,
    }


def test_broker_down_means_503_and_readiness_names_it(broker_outage):
    """Intake refuses with 503 + Retry-After and records nothing; /readyz names the broker only."""
    for service, problem in broker_outage["readiness"].items():
        assert set(problem["down"]) == {"broker"}, (service, problem)
    for answers in broker_outage["refused"].values():
        assert [a.status for a in answers] == [503] and answers[0].retry_after, answers
        assert answers[0].content_type.startswith("application/problem+json")
    ids = [body["submission_id"] for _token, body in broker_outage["ids"]]
    assert broker_outage["db"]["submissions"].count_documents({"_id": {"$in": ids}}) == 0


def test_workers_wait_for_the_broker(broker_outage):
    """No worker exits because the broker is gone."""
    assert broker_outage["alive"] == dict.fromkeys(WORKERS, True)


# --- the broker comes back (empty: the embedded broker kept everything in memory) ---------------------


@pytest.fixture(scope="module")
def broker_back(outage, broker_outage, report):
    """Start the broker again and make the topics: the services publish and consume again by themselves.

    kafka-python's idempotent producer cannot re-register with a broker that
    forgot it and stays failed; the publisher replaces a producer that keeps
    failing (qc.kafka.Publisher), and the consumers rejoin their groups.
    """
    stack, urls = outage.stack, outage.stack.urls()
    port = int(stack.settings.kafka_bootstrap.rsplit(":", 1)[1])
    started = time.monotonic()
    own_stack.restart(stack, "broker", broker_outage["broker_argv"], port)
    create_topics(stack.settings)
    creds = json.loads((stack.var_dir / "outage-credentials.json").read_text())
    items = generate(creds, 3, seed=SEED + 2, today=dt.date.today())

    def all_accepted():
        answers = _post_all(urls["checks"], items)
        return answers if all(a[-1].status == 202 for a in answers.values()) else None

    answers = wait_for(all_accepted, 90, "intake to accept again after the broker came back")
    ids = [body["submission_id"] for _token, body in items]
    db = outage.db

    def processed():
        decided = len(checks_store.decided(db, ids))
        facts = db["agg_facts"].count_documents({"_id": {"$in": ids}})
        return (decided, facts) if decided == len(ids) and facts == len(ids) else None

    wait_for(processed, 120, "the checks sent after the broker came back to be validated and counted")
    report(
        f"broker back: intake accepted again and the workers processed {len(ids)} new checks "
        f"within {time.monotonic() - started:.1f} s"
    )
    return {"answers": answers, "ids": ids}


def test_after_the_broker_returns_checks_are_accepted_and_processed_again(broker_back):
    """Intake answers 202 again and each new check is decided and counted (the fixture waited for both)."""
    assert len(broker_back["ids"]) == 3
    for answers in broker_back["answers"].values():
        assert answers[-1].status == 202
