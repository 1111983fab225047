"""End-to-end phase: a steady 100 submissions/s through the intake API, timed from each 202 to its
roll-up and its alert as they appear on ``qc.rollups.updated`` and ``qc.alerts``."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from bench import data, intake, stack, usage
from bench.pipeline import directory_size, wait_committed
from bench.report import E2E_RATE
from bench.stats import percentile
from qc import periods
from qc.kafka import Publisher, make_producer
from qc.settings import TOPICS, Settings
from qc_tools.devstack import SERVICES

RATE = E2E_RATE  # the rate the target is set at
URGENT_SHARE = 0.05


class Observer:
    """Reads topics from the start in a thread, noting when each event arrived (epoch s).

    With the services' own fetch wait, so the bare hop it times is the hop the services make.
    """

    def __init__(self, settings: Settings, topics: list[str]):
        self.consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            api_version=settings.kafka_api_tuple,
            enable_auto_commit=False,
            fetch_max_wait_ms=settings.consumer_fetch_wait_ms,
        )
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(self.consumer.partitions_for_topic(t))]
        self.consumer.assign(partitions)
        self.consumer.seek_to_beginning(*partitions)
        self.seen: list[tuple[float, str, dict]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            for records in self.consumer.poll(timeout_ms=50).values():
                now = time.time()
                for r in records:
                    self.seen.append((now, r.topic, json.loads(r.value)))

    def close(self):
        """Stop reading."""
        self._stop.set()
        self._thread.join(10)
        self.consumer.close()


def broker_hop(s, rate: int, seconds: int = 10) -> list[float]:
    """Baseline: produce -> consume latency of one bare hop at the same rate, with the services' producer."""
    topic = "bench.latency"
    publisher = Publisher(make_producer(s.settings, "bench-hop"), source="bench", timeout=10)
    publisher.publish_sync(topic, "warm", {"sent": time.time()})  # creates the topic
    observer = Observer(s.settings, [topic])
    time.sleep(1)
    start = time.monotonic()
    for i in range(rate * seconds):
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        publisher.producer.send(topic, key=b"k", value=json.dumps({"sent": time.time()}).encode())
    time.sleep(2)
    observer.close()
    publisher.close()
    return [at - event["sent"] for at, _t, event in observer.seen[1:]]


def measure(root: Path, work: Path, credentials: dict, seconds: int, rate: int = RATE) -> dict:
    """All services running; the generator sends ``rate``/s for ``seconds``; latencies in ms."""
    s = stack.make_stack(root, "e2e")
    try:
        stack.start(s, root)
        stack.copy_directory(s)
        for service in SERVICES:
            stack.start_service_web(s, service)
            stack.start_worker(s, service)
        admin = KafkaAdminClient(bootstrap_servers=s.settings.kafka_bootstrap, api_version=(3, 9))
        expected = directory_size(s)
        wait_committed(admin, [(g, TOPICS["directory"], expected) for g in ("qc-aggregate", "qc-notify")], timeout=180)
        admin.close()
        hop = broker_hop(s, rate)
        observer = Observer(s.settings, [TOPICS["rollups"], TOPICS["alerts"]])
        today = dt.date.today()
        items = data.e2e_requests(credentials, rate * seconds, today, URGENT_SHARE)
        window, database = usage.CpuWindow(s), usage.DatabaseWindow(s)
        window.start()
        database.start()
        sent = intake.fixed_rate(stack_url(s), items, rate, work, "e2e")
        cpu = window.stop()
        accepted = {}
        for item, (status, _latency, done_at) in zip(items, sent["results"], strict=True):
            if status == 202:
                b = item["body"]
                week = periods.periods_of(dt.date.fromisoformat(b["visited_on"]))["week"]
                accepted[b["submission_id"]] = (b["site_id"], week, done_at, bool(b["urgent_concern"]))
        urgent = sum(1 for v in accepted.values() if v[3])
        rollup_at, alert_at, scanned = {}, {}, 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen = observer.seen[scanned:]
            scanned += len(seen)
            for at, topic, event in seen:
                d = event["data"]
                if topic == TOPICS["rollups"] and d["scope"] == "site":
                    rollup_at.setdefault((d["site_id"], d["period"]), at)
                elif topic == TOPICS["alerts"] and event["type"] == "org.qc.alert.raised" and d["submission_ids"]:
                    alert_at.setdefault(d["submission_ids"][0], at)
            rollups_done = all((site, week) in rollup_at for site, week, _d, _u in accepted.values())
            if rollups_done and all(k in alert_at for k, v in accepted.items() if v[3]):
                break
            time.sleep(1)
        observer.close()
        database_use = database.stop()  # the whole work of these submissions: intake and the catch-up after
        to_rollup = [
            max(rollup_at[(site, week)] - done, 0)
            for site, week, done, _u in accepted.values()
            if (site, week) in rollup_at
        ]
        to_alert = [max(alert_at[k] - v[2], 0) for k, v in accepted.items() if k in alert_at]
        # Whether the stack keeps up: a queue that grows makes the last third of the sending wait longer.
        by_time = sorted(
            (done, rollup_at[(site, week)] - done)
            for site, week, done, _u in accepted.values()
            if (site, week) in rollup_at
        )
        third = len(by_time) // 3
        return {
            "sent": len(items),
            "accepted": len(accepted),
            "intake_p99": sent["p99"],
            "rollup": _ms(to_rollup, len(accepted)),
            "rollup_thirds": {
                "first": _ms([max(x, 0) for _d, x in by_time[:third]], third),
                "last": _ms([max(x, 0) for _d, x in by_time[-third:]], third) if third else _ms([], 0),
            },
            "alert": _ms(to_alert, urgent),
            "urgent": urgent,
            "hop": _ms(hop, rate * 10),
            "rate": rate,
            "memory": usage.peak_rss(s),
            "cpu": cpu,
            "database": database_use,
        }
    finally:
        s.stop()


def stack_url(s) -> str:
    """The checks service's base URL."""
    return s.urls()["checks"]


def _ms(seconds: list[float], expected: int) -> dict:
    ms = [x * 1000 for x in seconds]
    return {"p50": percentile(ms, 50), "p99": percentile(ms, 99), "seen": len(ms), "expected": expected}
