"""Start-up and shutdown without a broker: series created at zero, the loop's liveness and stop, web draining."""

from __future__ import annotations

import ast
import signal
import threading
import types

import pytest
from flask import Flask
from kafka.consumer.fetcher import ConsumerRecord
from prometheus_client import REGISTRY

from qc import events, metrics, signing, web
from qc.consumer import ConsumerLoop
from qc.handler import Handler
from qc.settings import ROOT, Settings
from qc_tools import gunicorn_conf
from services.checks import metrics as checks_metrics
from services.notify import metrics as notify_metrics
from services.notify.rules.alerts import load_rules
from tests.conftest import wait_for


def _value(name: str, **labels) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


# --- series at zero ---------------------------------------------------------


def test_a_consumer_group_s_series_exist_at_zero_before_its_first_event():
    metrics.initialise_consumer("qc-unit-init", ["t.one", "t.two"])
    for topic in ("t.one", "t.two"):
        for outcome in ("processed", "deadlettered"):
            assert _value("qc_events_consumed_total", group="qc-unit-init", topic=topic, outcome=outcome) == 0
        assert _value("qc_deadletter_events_total", group="qc-unit-init", topic=topic) == 0
    for kind in ("transient", "poison"):
        assert _value("qc_processing_errors_total", group="qc-unit-init", kind=kind) == 0
    assert _value("qc_consumer_last_poll_timestamp_seconds", group="qc-unit-init") > 0


def test_notify_series_exist_for_every_rule_and_channel_outcome():
    rules = load_rules(Settings().alert_rules_path)
    notify_metrics.initialise(rules)
    for rule in rules:
        assert _value("qc_alerts_raised_total", rule=rule.id, severity=rule.severity) is not None
    for channel in notify_metrics.CHANNELS:
        for outcome in notify_metrics.OUTCOMES:
            assert _value("qc_notifications_total", channel=channel, outcome=outcome) is not None
    assert _value("qc_pipeline_latency_seconds_count", stage="alert_raised") is not None


def _label_values(counter: str) -> list[tuple[str, list[str | None]]]:
    """Each ``<counter>.labels(...)`` call in the code: its file and its arguments where they are string constants."""
    found = []
    for path in [*ROOT.glob("qc/**/*.py"), *ROOT.glob("services/**/*.py")]:
        tree = ast.parse(path.read_text(), str(path))
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name) and isinstance(node.value.value, str)
        }
        for node in ast.walk(tree):
            func = getattr(node, "func", None)
            if not (isinstance(func, ast.Attribute) and func.attr == "labels"):
                continue
            owner = func.value
            if getattr(owner, "attr", getattr(owner, "id", None)) != counter:
                continue
            args = []
            for arg in node.args:
                if isinstance(arg, ast.Constant):
                    args.append(arg.value)
                else:
                    args.append(constants.get(arg.id) if isinstance(arg, ast.Name) else None)
            found.append((str(path.relative_to(ROOT)), args))
    return found


def test_every_submission_outcome_the_code_counts_is_created_at_zero():
    calls = _label_values("SUBMISSIONS")
    assert len(calls) >= 5, calls  # the scan finds the intake's and the API's counts
    known = set(checks_metrics.INTAKE_OUTCOMES + checks_metrics.VALIDATOR_OUTCOMES)
    assert {args[0] for _path, args in calls if args[0] is not None} <= known
    checks_metrics.initialise()
    for outcome in known:
        assert _value("qc_submissions_total", outcome=outcome) is not None, outcome


def test_every_notification_channel_and_outcome_the_code_counts_is_created_at_zero():
    calls = _label_values("NOTIFICATIONS")
    assert len(calls) >= 4, calls
    channels = {args[0] for _path, args in calls if args[0] is not None}
    outcomes = {args[1] for _path, args in calls if args[1] is not None}
    assert channels <= set(notify_metrics.CHANNELS)
    assert outcomes <= set(notify_metrics.OUTCOMES)


# --- the consumer loop ------------------------------------------------------


def _record(offset: int) -> ConsumerRecord:
    event = events.make_event(
        "org.qc.directory.changed",
        source="t",
        subject=f"R{offset}",
        data={"entity": "region", "id": f"R{offset}", "active": True, "name": "R"},
    )
    event = signing.sign(Settings().secret_key, event)  # the loop applies a directory event only when signed
    return ConsumerRecord("t.unit", 0, None, offset, 0, 0, b"k", events.encode(event), [], None, 1, 1, 0)


class _Consumer:
    """Just enough of KafkaConsumer: hands out ``batches`` one per poll, then nothing."""

    def __init__(self, batches):
        self.batches = list(batches)
        self.calls: list[str] = []

    def subscribe(self, topics, listener=None):
        self.calls.append("subscribe")

    def poll(self, timeout_ms, max_records):
        self.calls.append("poll")
        return {("t.unit", 0): self.batches.pop(0)} if self.batches else {}

    def commit(self):
        self.calls.append("commit")

    def close(self, autocommit=True):
        self.calls.append(f"close(autocommit={autocommit})")

    def assignment(self):
        return set()

    def paused(self):
        return set()


class _Publisher:
    def flush(self):
        pass


class _StopsMidBatch(Handler):
    """Asks the loop to stop while it handles its first batch, as SIGTERM would."""

    topics = ["t.unit"]

    def __init__(self):
        self.loop = None
        self.handled: list[int] = []
        self.ticks = 0

    def handle(self, batch):
        self.loop.stop()
        self.handled += [d.record.offset for d in batch]

    def tick(self):
        self.ticks += 1


def test_stopping_mid_batch_finishes_the_batch_commits_it_and_leaves_without_polling_again():
    consumer = _Consumer([[_record(0), _record(1)], [_record(2)]])
    handler = _StopsMidBatch()
    loop = ConsumerLoop(Settings(), consumer, "qc-unit-stop", handler, _Publisher())
    handler.loop = loop
    loop.run()
    assert handler.handled == [0, 1]
    assert consumer.calls == ["subscribe", "poll", "commit", "close(autocommit=False)"]
    assert handler.ticks == 0  # periodic work is left to the next process
    assert _value("qc_events_consumed_total", group="qc-unit-stop", topic="t.unit", outcome="processed") == 2


def test_the_loop_marks_itself_alive_every_time_round():
    consumer = _Consumer([])
    loop = ConsumerLoop(Settings(consumer_poll_ms=10), consumer, "qc-unit-alive", Handler(), _Publisher())
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        first = wait_for(lambda: _value("qc_consumer_last_poll_timestamp_seconds", group="qc-unit-alive"), 5)
        wait_for(lambda: _value("qc_consumer_last_poll_timestamp_seconds", group="qc-unit-alive") > first, 5)
    finally:
        loop.stop()
        thread.join(5)
    assert not thread.is_alive()


# --- web draining -----------------------------------------------------------


def _app() -> Flask:
    app = Flask(__name__)
    web.install(app, "unit", Settings(), {"database": lambda: None})
    return app


def test_readiness_answers_503_shutting_down_once_draining():
    app = _app()
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    app.extensions["qc.draining"] = True
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["down"] == {"self": "shutting down"}
    assert client.get("/healthz").status_code == 200  # alive, just not taking new work


@pytest.fixture
def restore_sigterm():
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_sigterm_drains_first_then_hands_over_to_gunicorn_once(monkeypatch, restore_sigterm):
    monkeypatch.setattr(gunicorn_conf, "_settings", Settings(shutdown_drain_seconds=0.3))
    handed_over = []
    app = _app()
    worker = types.SimpleNamespace(wsgi=app, handle_exit=lambda signum, frame: handed_over.append(signum))
    gunicorn_conf.post_worker_init(worker)

    signal.raise_signal(signal.SIGTERM)
    assert app.test_client().get("/readyz").status_code == 503
    assert handed_over == []  # still serving during the drain
    signal.raise_signal(signal.SIGTERM)  # `make stop` signals the group: the arbiter forwards one more
    wait_for(lambda: handed_over, 5, "gunicorn's own handler to run")
    assert handed_over == [signal.SIGTERM]


def test_worker_exit_closes_the_app_s_clients():
    closed = []
    app = _app()
    app.extensions["qc.close"] = lambda: closed.append(True)
    gunicorn_conf.worker_exit(None, types.SimpleNamespace(wsgi=app))
    assert closed == [True] and app.extensions["qc.draining"]


def test_an_unknown_http_method_is_counted_as_other_and_adds_no_series():
    from prometheus_client import REGISTRY

    client = _app().test_client()
    made_up = "QC" + "X" * 60
    client.open("/healthz", method=made_up)
    client.open("/healthz", method="PROPFIND")
    client.get("/healthz")
    series = {
        s.labels["method"]
        for metric in REGISTRY.collect()
        if metric.name == "qc_http_requests"
        for s in metric.samples
        if s.labels.get("service") == "unit"
    }
    assert "other" in series and "GET" in series
    assert made_up not in series and "PROPFIND" not in series
