"""`make run` heals itself: a process that stops is started again, with back-off, and a crash loop is said plainly."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import threading

import pytest
import requests

from qc import status
from qc.devstack import Stack, alive, http_ok, stop_pids
from qc.supervisor import Supervisor
from tests.conftest import wait_for
from tests.e2e.own_stack import own_env, own_stack

pytestmark = pytest.mark.e2e
QUICK = {"first_delay": 0.05, "max_delay": 0.4, "stable_after": 5.0, "crash_loop_after": 3}


def _log(stack) -> list[dict]:
    path = stack.var_dir / "log" / "supervisor.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


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


def test_a_killed_worker_and_web_service_come_back_and_intake_goes_on(tmp_path):
    with own_stack(tmp_path) as stack:
        stack.start_services()
        stack.wait_ready(timeout=90)
        supervisor = Supervisor(stack, out=io.StringIO(), first_delay=0.2, max_delay=2.0)
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                supervisor.check()
                stop.wait(0.1)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            killed = {name: stack.procs[name].pid for name in ("notify-worker", "checks-web")}
            for pid in killed.values():
                os.killpg(pid, signal.SIGKILL)
            wait_for(
                lambda: all(stack.procs[n].pid != pid and stack.procs[n].poll() is None for n, pid in killed.items()),
                30,
                "both started again",
            )
            url = stack.urls()["checks"]
            wait_for(lambda: http_ok(f"{url}/readyz"), 60, "checks to be ready again")
            assert requests.get(f"{url}/api/v1/question-sets/current", timeout=10).status_code == 200
            exits = {e["process"]: e for e in _log(stack) if e["event"] == "exited"}
            assert exits["notify-worker"]["exit"] == "signal SIGKILL"
            assert {e["process"] for e in _log(stack) if e["event"] == "restarted"} == set(killed)
            rows = {r["process"]: r for r in status.rows(stack.settings)}
            assert rows["notify-worker"]["restarts"] == 1 and rows["notify-worker"]["state"] == "running"
            assert rows["checks-web"]["pid"] == stack.procs["checks-web"].pid
        finally:
            stop.set()
            watcher.join(10)


def test_a_killed_broker_comes_back_with_our_topics_and_its_clients_start_again(tmp_path):
    from kafka import KafkaConsumer

    from qc.devstack import SERVICES, after_restart
    from qc.settings import TOPICS

    with own_stack(tmp_path) as stack:
        stack.start_services()
        stack.wait_ready(timeout=90)
        services = [f"{s}-{kind}" for s in SERVICES for kind in ("web", "worker")]
        said = io.StringIO()
        supervisor = Supervisor(
            stack,
            out=said,
            first_delay=0.2,
            on_restart=lambda n: after_restart(stack, n),
            dependents={"broker": services},
        )
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
