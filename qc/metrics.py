"""Prometheus metrics shared by every service, and the /metrics exposition.

Web workers (gunicorn) and the Kafka worker of a service write to one
``PROMETHEUS_MULTIPROC_DIR``, so one scrape of a service's ``/metrics`` shows
both. Labels are low-cardinality: never free text or personal data.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from qc.settings import TOPICS

HTTP_REQUESTS = Counter("qc_http_requests_total", "HTTP requests served", ["service", "route", "method", "status"])
HTTP_DURATION = Histogram(
    "qc_http_request_duration_seconds",
    "Time to serve an HTTP request",
    ["service", "route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PRODUCED = Counter("qc_events_produced_total", "Events acknowledged by the broker", ["topic"])
EVENTS_CONSUMED = Counter(
    "qc_events_consumed_total",
    "Events consumed, by outcome (processed, deadlettered)",
    ["group", "topic", "outcome"],
)
DEADLETTERED = Counter("qc_deadletter_events_total", "Events sent to the dead-letter topic", ["group", "topic"])
PROCESSING_ERRORS = Counter(
    "qc_processing_errors_total",
    "Errors while processing events, by kind (transient: retried; poison: dead-lettered)",
    ["group", "kind"],
)
CONSUMER_LAG = Gauge(
    "qc_consumer_lag",
    "Messages between a group's position and the partition's high watermark",
    ["group", "topic", "partition"],
    multiprocess_mode="livemax",
)
# "livemax": a worker that exits cleanly drops its series (QcWorkerNotReporting
# then sees no lag either); one that is alive but stuck keeps an old value.
# With several workers in a group the freshest one wins, so this catches a
# group that has stopped, not one member among many (their lag shows that).
# Not ready (0) while the loop waits for the broker or database to come back;
# the loop still goes round, so the worker stays live (last poll) meanwhile.
CONSUMER_READY = Gauge(
    "qc_consumer_ready",
    "1 while a worker's consumer loop processes events; 0 while it waits for the broker or database",
    ["group"],
    multiprocess_mode="livemin",
)
CONSUMER_LAST_POLL = Gauge(
    "qc_consumer_last_poll_timestamp_seconds",
    "Unix time a worker's consumer loop last went round (it polls at least every few seconds)",
    ["group"],
    multiprocess_mode="livemax",
)
PIPELINE_LATENCY = Histogram(
    "qc_pipeline_latency_seconds",
    "Time from a submission's 202 to a stage (validated, rollup_updated, alert_raised)",
    ["stage"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)


CONSUMER_OUTCOMES = ("processed", "deadlettered")
ERROR_KINDS = ("transient", "poison")


def initialise_consumer(group: str, topics: Iterable[str]) -> None:
    """Create a worker's labelled series at zero, so ``increase()`` sees its first event."""
    for topic in topics:
        for outcome in CONSUMER_OUTCOMES:
            EVENTS_CONSUMED.labels(group, topic, outcome)
        DEADLETTERED.labels(group, topic)
    # Every consumer loop may dead-letter: without this the produced-events
    # family would not exist until a first event, nor see that first one.
    EVENTS_PRODUCED.labels(TOPICS["deadletter"])
    for kind in ERROR_KINDS:
        PROCESSING_ERRORS.labels(group, kind)
    mark_polled(group)


def initialise_latency(*stages: str) -> None:
    """Create the pipeline latency histogram's series for the stages a process observes."""
    for stage in stages:
        PIPELINE_LATENCY.labels(stage)


def mark_polled(group: str) -> None:
    """Record that the consumer loop of ``group`` is going round (the worker's liveness)."""
    CONSUMER_LAST_POLL.labels(group).set(time.time())


def exposition(multiproc_dir: str | None, supervisor_state: Path | None = None) -> tuple[bytes, str]:
    """The text to serve at /metrics, merged across processes when multiprocess.

    ``supervisor_state``: under `make run`, the supervisor's state file (qc_tools/supervisor.py), whose
    restarts and crash loops are added when it exists.
    """
    if multiproc_dir:
        registry = CollectorRegistry()
        SettledFiles(registry, path=multiproc_dir)
    else:
        registry = DEFAULT_REGISTRY
    body = generate_latest(registry)
    if supervisor_state is not None and supervisor_state.exists():
        supervised = CollectorRegistry()
        supervised.register(SupervisedProcesses(supervisor_state))
        body += generate_latest(supervised)  # other families: the text format allows them one after another
    return body, CONTENT_TYPE_LATEST


class SettledFiles(multiprocess.MultiProcessCollector):
    """The processes' metrics files, leaving out one caught in the instant between its creation and its first
    write: prometheus_client reads a 0-byte file as corrupt and fails the whole scrape (seen while a worker
    started); that process's series are in the next scrape."""

    def collect(self):
        files = []
        for path in glob.glob(os.path.join(self._path, "*.db")):
            with contextlib.suppress(OSError):  # a dead process's file removed meanwhile
                if os.path.getsize(path) > 0:
                    files.append(path)
        return self.merge(files, accumulate=True)


# The series SupervisedProcesses exposes, with their labels (for the checks of rules and dashboards).
SUPERVISED_SERIES = {"qc_process_restarts_total": ("process",), "qc_process_crash_looping": ("process",)}


class SupervisedProcesses(Collector):
    """Each process `make run` supervises: how often it was started again, and whether it is in a crash loop.

    Read from the supervisor's state file at each scrape (the supervisor is
    not a web service of its own). Under docker compose, restarts are
    Docker's (`restart: unless-stopped`) and this file does not exist.
    """

    def __init__(self, state_file: Path):
        self.state_file = state_file

    def collect(self):
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):  # being replaced right now, or gone: nothing this scrape
            return
        restarts = CounterMetricFamily(
            "qc_process_restarts", "Times the supervisor started a process again after it stopped", labels=["process"]
        )
        looping = GaugeMetricFamily(
            "qc_process_crash_looping", "1 while a process keeps stopping soon after it starts", labels=["process"]
        )
        for name, known in sorted(state.items()):
            restarts.add_metric([name], known.get("restarts", 0))
            looping.add_metric([name], 1 if known.get("crash_loop") else 0)
        yield restarts
        yield looping


def mark_process_dead(pid: int, multiproc_dir: str | None) -> None:
    """Drop a dead process's live gauges (gunicorn child_exit, worker exit)."""
    if multiproc_dir:
        multiprocess.mark_process_dead(pid, multiproc_dir)
