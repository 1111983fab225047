"""Operations with the services as processes: metrics as `make run` serves them, and graceful shutdown on SIGTERM."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import threading
import time

import pytest
import requests
from kafka import KafkaAdminClient, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient

from qc.settings import TOPICS
from qc_tools.demo_checks import generate
from qc_tools.devstack import free_port
from services.aggregate import worker as aggregate_worker
from services.checks import worker as checks_worker
from services.checks.metrics import INTAKE_OUTCOMES, VALIDATOR_OUTCOMES
from services.notify import worker as notify_worker
from services.notify.metrics import CHANNELS, OUTCOMES
from services.notify.rules.alerts import load_rules
from tests.conftest import read_topic, wait_for
from tests.e2e.own_stack import (
    log_lines,
    metrics_env,
    own_stack,
    publisher_for,
    sample,
    send_validated,
    start_web,
    start_worker,
    terminate,
    validated_event,
    wait_rollups_equal_recount,
)

pytestmark = pytest.mark.e2e
CONSUMED = {  # each worker's group and topics
    "checks": (checks_worker.GROUP, checks_worker.ChecksHandler.topics),
    "aggregate": (aggregate_worker.GROUP, aggregate_worker.AggregateHandler.topics),
    "notify": (notify_worker.GROUP, notify_worker.NotifyHandler.topics),
}


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """A stack of our own with every service started as `make run` does (web and worker share a metrics dir)."""
    with own_stack(tmp_path_factory.mktemp("shutdown")) as stack:
        credentials = stack.var_dir / "credentials.json"
        stack.run_cli("demo-seed", "--sites", "12", "--credentials", str(credentials))
        stack.start_services()
        stack.wait_ready(timeout=90)
        yield stack, json.loads(credentials.read_text())


def _samples(url: str) -> list:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def _value(samples, name: str, **labels) -> float | None:
    return next((s.value for s in samples if s.name == name and s.labels == labels), None)


def test_each_service_shows_its_workers_lag_liveness_and_every_series_from_zero(running):
    stack, _creds = running
    rules = load_rules(stack.settings.alert_rules_path)
    for service, url in stack.urls().items():
        group, topics = CONSUMED[service]
        every = {(t, str(p)) for t in topics for p in range(stack.settings.topic_partitions)}

        def lag_everywhere(url=url, group=group, every=every):
            samples = _samples(url)
            lag = {(s.labels["topic"], s.labels["partition"]) for s in samples if s.name == "qc_consumer_lag"}
            return samples if every <= lag else None

        # Served by the web, written by the worker: one multiprocess directory.
        samples = wait_for(lag_everywhere, 30, f"{service}'s /metrics to show its worker's lag on every partition")
        polled = _value(samples, "qc_consumer_last_poll_timestamp_seconds", group=group)
        assert polled is not None and time.time() - polled < 30, (service, polled)
        for topic in topics:
            for outcome in ("processed", "deadlettered"):
                assert (
                    _value(samples, "qc_events_consumed_total", group=group, topic=topic, outcome=outcome) is not None
                )
            assert _value(samples, "qc_deadletter_events_total", group=group, topic=topic) == 0
        for kind in ("transient", "poison"):
            assert _value(samples, "qc_processing_errors_total", group=group, kind=kind) is not None
        if service == "checks":
            for outcome in INTAKE_OUTCOMES + VALIDATOR_OUTCOMES:
                assert _value(samples, "qc_submissions_total", outcome=outcome) is not None, outcome
        if service == "notify":
            for rule in rules:
                assert _value(samples, "qc_alerts_raised_total", rule=rule.id, severity=rule.severity) is not None
            for channel in CHANNELS:
                for outcome in OUTCOMES:
                    assert _value(samples, "qc_notifications_total", channel=channel, outcome=outcome) is not None
        stage = {"checks": "validated", "aggregate": "rollup_updated", "notify": "alert_raised"}[service]
        assert _value(samples, "qc_pipeline_latency_seconds_count", stage=stage) is not None


def _committed(stack, group: str, topic: str) -> int:
    admin = KafkaAdminClient(bootstrap_servers=stack.settings.kafka_bootstrap, client_id="qc-tests")
    try:
        partitions = [TopicPartition(topic, p) for p in range(stack.settings.topic_partitions)]
        offsets = admin.list_group_offsets({group: partitions}).get(group, {})
    finally:
        admin.close()
    return sum(max(meta.offset, 0) for meta in offsets.values())


def test_a_worker_stopped_mid_stream_commits_its_batch_and_its_successor_redoes_nothing(running):
    stack, _creds = running
    metrics_dir = stack.var_dir / "metrics" / "aggregate"
    processed = {"group": "qc-aggregate", "topic": TOPICS["validated"], "outcome": "processed"}
    rng = random.Random(16)
    sent = [validated_event(rng, dt.date.today()) for _ in range(600)]
    done = threading.Event()
    publisher = publisher_for(stack)

    def produce():
        # Paced, so the SIGTERM lands while events are still arriving.
        try:
            for start in range(0, len(sent), 10):
                send_validated(publisher, sent[start : start + 10])
                done.wait(0.03)
        finally:
            done.set()

    producer = threading.Thread(target=produce)
    client = MongoClient(stack.settings.mongo_uri)
    facts = client[stack.settings.mongo_db]["agg_facts"]
    try:
        producer.start()
        wait_for(lambda: facts.count_documents({}) >= 50, 30, "the worker to be part-way through")
        assert not done.is_set(), "the events came faster than the test can stop the worker"
        assert terminate(stack, "aggregate-worker", timeout=20) == 0
        messages = [line["message"] for line in log_lines(stack, "aggregate-worker")]
        stopping = messages.index("stopping on signal: finishing the batch in hand")
        assert messages[stopping:].index("consumer stopped") < messages[stopping:].index("worker exited")

        # What it stored is exactly what it committed and counted: the batch
        # in hand was finished and committed, nothing was left half done.
        committed = _committed(stack, "qc-aggregate", TOPICS["validated"])
        assert 50 <= committed < len(sent)
        assert facts.count_documents({}) == committed
        assert sample(metrics_dir, "qc_events_consumed_total", processed) == committed

        producer.join(timeout=30)
        start_worker(stack, "aggregate-worker", "aggregate", metrics_env(stack, "aggregate"))  # metrics_dir again
        wait_for(lambda: facts.count_documents({}) == len(sent), 60, "the restarted worker to store the rest")
        # The successor began at the committed offsets: nothing handled twice.
        wait_for(
            lambda: sample(metrics_dir, "qc_events_consumed_total", processed) >= len(sent),
            10,
            "the restarted worker to count its events",
        )
        assert sample(metrics_dir, "qc_events_consumed_total", processed) == len(sent)
        wait_rollups_equal_recount(client[stack.settings.mongo_db], sent)
    finally:
        done.set()
        producer.join(timeout=30)
        publisher.close()
        client.close()


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/readyz", timeout=10).status_code == 200
    except requests.RequestException:  # not listening yet, or still starting
        return False


class _Traffic:
    """Checkers sending checks, and a load balancer's readiness probe, recording what each got and when."""

    def __init__(self, url: str, creds: dict, seed: int, threads: int = 4):
        self.url = url
        self.stop = threading.Event()
        self.items = iter(generate(creds, 5000, seed=seed, today=dt.date.today()))
        self.lock = threading.Lock()
        self.posts: list[tuple[float, float, object, tuple]] = []  # (started, ended, status or error, item)
        self.probes: list[tuple[float, float, object, dict | None]] = []
        self.threads = [threading.Thread(target=self._checker) for _ in range(threads)]
        self.threads.append(threading.Thread(target=self._probe))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _checker(self):
        with requests.Session() as session:
            while not self.stop.is_set():
                with self.lock:
                    item = next(self.items)
                token, body = item
                started = time.monotonic()
                try:
                    response = session.post(
                        f"{self.url}/api/v1/submissions",
                        json=body,
                        headers={"Authorization": f"Bearer {token}"},
                        timeout=10,
                    )
                    outcome = response.status_code
                except requests.ConnectionError as e:
                    outcome = e
                    session.close()  # a new connection for the next one, as a client would
                    self.stop.wait(0.05)
                self.posts.append((started, time.monotonic(), outcome, item))

    def _probe(self):
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                response = requests.get(f"{self.url}/readyz", timeout=5)
                outcome, body = response.status_code, response.json()
            except requests.ConnectionError as e:
                outcome, body = e, None
            self.probes.append((started, time.monotonic(), outcome, body))
            self.stop.wait(0.05)

    def accepted(self) -> list[tuple[float, float, object, tuple]]:
        """The checks answered 202 so far."""
        return [p for p in list(self.posts) if p[2] == 202]


@pytest.mark.parametrize("signalled", ["process group", "master"])
def test_a_web_service_turns_unready_first_then_finishes_what_it_accepted(running, signalled):
    """`make stop` signals the process group; `docker stop` only gunicorn's master, which tells its workers."""
    stack, creds = running
    name = f"checks-web-{signalled.replace(' ', '-')}"
    url = f"http://127.0.0.1:{free_port()}"
    proc = start_web(stack, name, "checks", int(url.rsplit(":", 1)[1]), metrics_env(stack, name))
    wait_for(lambda: _ready(url) or proc.poll() is not None, 60, f"{name} to be ready")
    assert proc.poll() is None, f"gunicorn exited; see {stack.var_dir}/log/{name}.log"
    # Every worker has loaded the app and put its drain in front of gunicorn's stop (one worker alone can
    # serve the first checks while another is still loading, and that one would stop without draining).
    wait_for(lambda: len(_logged(stack, name, "web worker ready")) == stack.settings.web_workers, 60, "every worker")

    with _Traffic(url, creds, seed=len(signalled)) as traffic:
        wait_for(lambda: len(traffic.accepted()) >= 20, 30, "checks to be flowing")
        sigterm_at = time.monotonic()
        if signalled == "master":
            os.kill(proc.pid, signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGTERM)
        code = proc.wait(30)
        exited_at = time.monotonic()
    stack.procs.pop(name)
    assert code == 0

    # Readiness turned 503 "shutting down" while the workers still answered,
    # and never went back to 200.
    answered = [p for p in traffic.probes if isinstance(p[2], int)]
    assert all(status == 200 for started, ended, status, _ in answered if ended < sigterm_at)
    first_503 = next(p for p in answered if p[2] == 503)
    assert first_503[3]["down"] == {"self": "shutting down"}
    assert all(status == 503 for started, _, status, _ in answered if started > first_503[1])
    # Checks kept being accepted after that, for the drain (1.5 s here).
    assert any(started > first_503[1] for started, *_ in traffic.accepted())
    assert exited_at - sigterm_at < 15

    # No 5xx, nor anything but 202, for requests the service accepted; the
    # rest found the door closed (the client sends them again later).
    statuses = {p[2] for p in traffic.posts if isinstance(p[2], int)}
    assert statuses == {202}, statuses
    assert all(isinstance(p[2], requests.ConnectionError) for p in traffic.posts if not isinstance(p[2], int))

    # Every 202 is on the topic (the broker acknowledged it before the answer).
    ids = {p[3][1]["submission_id"] for p in traffic.accepted()}
    read_topic(
        stack.settings,
        TOPICS["received"],
        lambda evs: ids <= {e["data"]["submission_id"] for e in evs},
    )
    # Each worker drained once, although `make stop` signals it twice.
    drained = _logged(stack, name, "shutting down")
    assert len(drained) == stack.settings.web_workers

    # The ones refused are taken by another instance when sent again.
    refused = [p[3] for p in traffic.posts if not isinstance(p[2], int)]
    for token, body in refused:
        again = requests.post(
            f"{stack.urls()['checks']}/api/v1/submissions",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert again.status_code == 202, again.text


def _logged(stack, name: str, start: str) -> list[dict]:
    """The JSON log lines of ``name`` whose message starts with ``start``."""
    return [line for line in log_lines(stack, name) if line.get("message", "").startswith(start)]
