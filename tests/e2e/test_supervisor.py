"""`make run` heals itself: a process that stops is started again, with back-off, and a crash loop is said plainly."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import signal
import sys
from collections import Counter

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from qc_tools import status
from qc_tools.devstack import Stack
from qc_tools.stopping import alive, stop_pids
from qc_tools.supervisor import Supervisor
from services.checks.stores import submissions as checks_store
from tests.conftest import wait_for
from tests.e2e import crash_tools
from tests.e2e.own_stack import own_env, own_stack

pytestmark = pytest.mark.e2e
QUICK = {"first_delay": 0.05, "max_delay": 0.4, "stable_after": 5.0, "crash_loop_after": 3}


def _log(stack) -> list[dict]:
    return crash_tools.supervisor_log(stack)


def test_a_process_that_keeps_stopping_backs_off_and_is_reported_as_a_crash_loop(tmp_path):
    stack = Stack(tmp_path, own_env(tmp_path))
    stack.spawn("flaky", [sys.executable, "-c", "import sys; sys.exit(3)"])
    stack.spawn("steady", [sys.executable, "-c", "import time; time.sleep(120)"])
    said = io.StringIO()
    supervisor = Supervisor(stack, out=said, **QUICK)
    try:

        def five_exits():
            supervisor.check()
            return len([e for e in _log(stack) if e["event"] == "exited"]) >= 5

        wait_for(five_exits, 20, "five exits", interval=0.02)
        assert supervisor.watched["flaky"].crash_loop
        exits = [e for e in _log(stack) if e["event"] == "exited"]
        assert {e["process"] for e in exits} == {"flaky"} and all(e["exit"] == "exit code 3" for e in exits)
        assert [e["restart_in_seconds"] for e in exits][:5] == [0.05, 0.1, 0.2, 0.4, 0.4]  # doubling, then capped
        assert "flaky keeps stopping within 5 s of starting (3 times in a row, last: exit code 3)" in said.getvalue()
        shown = {r["process"]: r for r in status.rows(stack.settings)}
        assert shown["flaky"]["state"] == "crash loop" and shown["flaky"]["restarts"] >= 2
        assert shown["steady"]["state"] == "running" and shown["steady"]["restarts"] == 0
        assert shown["steady"]["memory_mb"] > 0
    finally:
        started = [proc.pid for proc in stack.procs.values()]
        stop_pids(stack.var_dir, timeout=10, procs=stack.procs)
    assert not [pid for pid in started if alive(pid)]  # `make stop` leaves nothing behind, restarted ones too


def test_a_killed_worker_web_service_and_database_come_back_and_intake_goes_on(tmp_path):
    with own_stack(tmp_path, db_path=tmp_path / "db") as stack:  # on disk: it outlives its process
        stack.start_services()
        stack.wait_ready(timeout=90)
        with crash_tools.supervised(stack):
            killed = {name: stack.procs[name].pid for name in ("notify-worker", "checks-web", "database")}
            for pid in killed.values():
                os.killpg(pid, signal.SIGKILL)
            wait_for(
                lambda: all(stack.procs[n].pid != pid and stack.procs[n].poll() is None for n, pid in killed.items()),
                30,
                "all three started again",
            )
            url = stack.urls()["checks"]
            stack.wait_ready(timeout=90)  # /readyz of every service: the database answers again
            assert requests.get(f"{url}/api/v1/question-sets/current", timeout=10).status_code == 200
            exits = {e["process"]: e for e in _log(stack) if e["event"] == "exited"}
            assert exits["notify-worker"]["exit"] == "signal SIGKILL"
            assert {e["process"] for e in _log(stack) if e["event"] == "restarted"} == set(killed)
            rows = {r["process"]: r for r in status.rows(stack.settings)}
            assert rows["notify-worker"]["restarts"] == 1 and rows["notify-worker"]["state"] == "running"
            assert rows["checks-web"]["pid"] == stack.procs["checks-web"].pid


def test_a_killed_broker_comes_back_with_our_topics_and_its_clients_start_again(tmp_path):
    from kafka import KafkaConsumer

    from qc.settings import TOPICS
    from qc_tools.devstack import SERVICES
    from qc_tools.make_run import supervise

    with own_stack(tmp_path) as stack:
        stack.start_services()
        stack.wait_ready(timeout=90)
        services = [f"{s}-{kind}" for s in SERVICES for kind in ("web", "worker")]
        said = io.StringIO()
        supervisor = supervise(stack, out=said, first_delay=0.2)
        before = {name: stack.procs[name].pid for name in services}
        os.killpg(stack.procs["broker"].pid, signal.SIGKILL)
        wait_for(lambda: supervisor.check() or "broker: started again" in said.getvalue(), 60, "the broker back")
        stack.wait_ready(timeout=90)
        # Every client was started again after the topics were made: none made them first with other partitions.
        assert all(stack.procs[name].pid != pid for name, pid in before.items())
        consumer = KafkaConsumer(bootstrap_servers=stack.settings.kafka_bootstrap)
        try:
            for topic in TOPICS.values():
                assert len(consumer.partitions_for_topic(topic) or ()) == stack.settings.topic_partitions, topic
        finally:
            consumer.close()
        supervisor.check()  # the clients stopped on purpose are not taken for crashes
        assert not [e for e in _log(stack) if e["event"] == "exited" and e["process"] != "broker"]
        url = stack.urls()["checks"]
        assert requests.get(f"{url}/api/v1/question-sets/current", timeout=10).status_code == 200


def _post_all(url: str, items: list[tuple[str, dict]]) -> list[str]:
    """POST each check; the ids answered 202 (each must be)."""
    accepted = []
    for token, body in items:
        r = requests.post(
            f"{url}/api/v1/submissions", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert r.status_code == 202, r.text
        accepted.append(body["submission_id"])
    return accepted


def test_a_broker_crash_loses_no_check_answered_202(tmp_path, report):
    """The embedded broker's log is in memory: kill -9 it with checks not yet validated, and others validated
    but not yet counted. The intake's outbox (services/checks/stores/outbox.py) publishes them again; every one is
    counted once."""
    from pymongo import MongoClient

    from qc_tools.demo_checks import generate
    from qc_tools.make_run import supervise

    with own_stack(tmp_path) as stack:
        credentials = tmp_path / "credentials.json"
        stack.run_cli("demo-seed", "--sites", "12", "--credentials", str(credentials))
        stack.start_services()
        stack.wait_ready(timeout=90)
        said = io.StringIO()
        supervisor = supervise(stack, out=said, first_delay=0.2)
        client = MongoClient(stack.settings.mongo_uri, tz_aware=True)
        db = client[stack.settings.mongo_db]
        items = generate(json.loads(credentials.read_text()), 40, seed=11, today=dt.date.today())
        url = stack.urls()["checks"]
        frozen = ("aggregate-worker", "notify-worker", "checks-worker")
        try:
            # Validated but not yet counted: aggregate and notify are frozen (SIGSTOP), the validator is not.
            for name in frozen[:2]:
                os.killpg(stack.procs[name].pid, signal.SIGSTOP)
            decided_first = _post_all(url, items[:20])
            wait_for(
                lambda: len(checks_store.decided(db, decided_first)) == len(decided_first),
                60,
                "the first checks to be decided",
            )
            # Not even decided: the validator is frozen too.
            os.killpg(stack.procs["checks-worker"].pid, signal.SIGSTOP)
            undecided = _post_all(url, items[20:])
            os.killpg(stack.procs["broker"].pid, signal.SIGKILL)
            stack.procs["broker"].wait(30)
            for name in frozen:  # they find the broker gone, and are started again after it
                os.killpg(stack.procs[name].pid, signal.SIGCONT)
            wait_for(lambda: supervisor.check() or "broker: started again" in said.getvalue(), 60, "the broker back")
            stack.wait_ready(timeout=90)
            accepted = decided_first + undecided

            def all_counted():
                decided = {sid: d["status"] for sid, d in checks_store.decided(db, accepted).items()}
                if len(decided) < len(accepted):
                    return None
                validated = {sid for sid, status in decided.items() if status == "validated"}
                facts = {d["_id"] for d in db["agg_facts"].find({"_id": {"$in": sorted(validated)}}, {"_id": 1})}
                site_checks = crash_tools.checks_in_month_sums(db)
                # Counted once each, though their events came twice.
                return validated if facts == validated and site_checks == len(validated) else None

            validated = wait_for(all_counted, 120, "every check answered 202 to be decided and counted once")
            republished = [line for line in _worker_log(stack) if "publishing the kept checks again" in line]
            report(
                f"broker crash: {len(accepted)} checks answered 202 ({len(decided_first)} validated not yet counted, "
                f"{len(undecided)} not yet validated) when the broker was killed; after its restart "
                f"{len(validated)} validated and counted, {len(accepted) - len(validated)} rejected, lost 0"
            )
            if stack.broker_kind == "embedded":  # its log was in memory: gone, and sent again from the outbox
                assert republished, "the outbox saw no lost log"
            else:  # Apache Kafka keeps its log on disk: nothing was lost, so nothing is sent again
                assert republished == [], "the outbox took a log that survived for lost"
            alert_keys = Counter(a["key"] for a in db["alerts"].find({}, {"key": 1}))
            assert [key for key, n in alert_keys.items() if n > 1] == []  # none raised twice
        finally:
            client.close()


def _worker_log(stack) -> list[str]:
    path = stack.var_dir / "log" / "checks-worker.log"
    return path.read_text(errors="replace").splitlines() if path.exists() else []


def test_a_crash_loop_shows_on_metrics_and_makes_the_services_that_need_it_not_ready(tmp_path, settings):
    """Ops see restarts per process on /metrics (QcProcessRestarting, QcProcessCrashLoop) and /readyz says why."""
    import dataclasses

    from services.aggregate.bootstrap import create_app as aggregate_app
    from services.checks.bootstrap import create_app as checks_app

    stack = Stack(tmp_path, own_env(tmp_path))
    stack.spawn("checks-worker", [sys.executable, "-c", "import sys; sys.exit(3)"])
    supervisor = Supervisor(stack, out=io.StringIO(), **QUICK)
    config = {**dataclasses.asdict(settings), "var_dir": tmp_path}
    checks, aggregate = checks_app(config), aggregate_app(config)
    try:
        assert checks.test_client().get("/readyz").status_code == 200
        wait_for(lambda: supervisor.check() or supervisor.watched["checks-worker"].crash_loop, 20, "a crash loop", 0.02)
        answer = checks.test_client().get("/readyz")
        assert answer.status_code == 503
        assert "checks-worker keeps stopping soon after it starts" in answer.get_json()["down"]["processes"]
        assert aggregate.test_client().get("/readyz").status_code == 200  # it does not need the checks worker
        scraped = {
            (s.name, s.labels.get("process")): s.value
            for family in text_string_to_metric_families(checks.test_client().get("/metrics").get_data(as_text=True))
            for s in family.samples
        }
        restarts = scraped[("qc_process_restarts_total", "checks-worker")]
        assert restarts >= 2 and restarts == supervisor.watched["checks-worker"].restarts
        assert scraped[("qc_process_crash_looping", "checks-worker")] == 1
    finally:
        for app in (checks, aggregate):
            app.extensions["qc.close"]()
        stop_pids(stack.var_dir, timeout=10, procs=stack.procs)
