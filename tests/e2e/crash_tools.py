"""Helpers for the crash test: a stack of its own, kill -9 and restart, paced load, reading topics and lag.

The crash test kills workers, so it runs on a broker, database and SMTP sink
of its own (free ports, its own var dir): the session's stack and other
modules' consumer groups are not disturbed, and what it counts is only its own.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import io
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import requests
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from qc.kafka import create_topics
from qc.settings import GROUP_TOPICS, Settings
from qc_tools.devstack import Stack, http_ok
from qc_tools.make_run import supervise
from tests.conftest import wait_for
from tests.stack_env import stack_env

# Each worker's consumer group and the topics it reads.
GROUPS = {f"{group.removeprefix('qc-')}-worker": (group, topics) for group, topics in GROUP_TOPICS.items()}


def crash_env(var: Path) -> dict[str, str]:
    """Settings for a stack on free ports under ``var``; rate limits off (one address sends everything)."""
    return stack_env(var)


@contextlib.contextmanager
def crash_stack(var: Path):
    """Broker, database (in memory) and SMTP sink with the topics created; everything stopped at the end."""
    stack = Stack(var, crash_env(var))
    try:
        stack.start_infrastructure(":memory:")
        create_topics(stack.settings)
        yield stack
    finally:
        stack.stop(timeout=25)


@contextlib.contextmanager
def supervised(stack: Stack, every: float = 0.1):
    """`make run`'s supervisor watching every process of ``stack`` (a quick first restart), until the block ends."""
    supervisor = supervise(stack, out=io.StringIO(), first_delay=0.2, max_delay=2.0)
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            supervisor.check()
            stop.wait(every)

    watcher = threading.Thread(target=watch, name="supervisor", daemon=True)
    watcher.start()
    try:
        yield supervisor
    finally:
        stop.set()
        watcher.join(10)


def kill_and_wait_for_restart(stack: Stack, name: str, timeout: float = 60) -> int:
    """kill -9 one process; returns its old pid once the supervisor has started it again (a web one answering)."""
    proc = stack.procs[name]
    if proc.poll() is not None:
        raise AssertionError(f"{name} had already exited with {proc.returncode}; see {stack.var_dir}/log/{name}.log")
    os.killpg(proc.pid, signal.SIGKILL)
    wait_for(
        lambda: stack.procs[name].pid != proc.pid and stack.procs[name].poll() is None,
        timeout,
        f"{name} to be started again",
    )
    service, _, kind = name.partition("-")
    if kind == "web":
        wait_for(lambda: http_ok(f"{stack.urls()[service]}/healthz"), timeout, f"{name} to answer again")
    return proc.pid


def supervisor_log(stack: Stack) -> list[dict]:
    """Every JSON line the supervisor has written (exits and restarts)."""
    path = stack.var_dir / "log" / "supervisor.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


class Sender(threading.Thread):
    """POSTs (token, body) pairs to the intake API from a few threads, paced, recording every answer."""

    ATTEMPTS = 8  # a phone keeps trying: enough to outlast a killed web process's restart

    def __init__(self, url: str, items: list[tuple[str, dict]], per_second: float, threads: int = 6):
        super().__init__(name="crash-sender", daemon=True)
        self.url = f"{url.rstrip('/')}/api/v1/submissions"
        self.items = items
        self.interval = 1.0 / per_second
        self.threads = threads
        self.statuses: dict[int, int] = {}  # index in items -> HTTP status (0: no answer)
        self.errors: list[str] = []
        self.unanswered: set[int] = set()  # items whose POST once got no answer at all (the process was killed)
        self.retries = 0
        self._next = 0
        self._lock = threading.Lock()
        self._started_at = 0.0

    def run(self) -> None:
        """Send everything, then return."""
        self._started_at = time.monotonic()
        workers = [threading.Thread(target=self._work, daemon=True) for _ in range(self.threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    def _claim(self) -> int | None:
        with self._lock:
            if self._next >= len(self.items):
                return None
            i, self._next = self._next, self._next + 1
        # Pace by schedule (not by sleeping after each), so a slow answer does not slow the whole load.
        delay = self._started_at + i * self.interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return i

    def _work(self) -> None:
        with requests.Session() as session:
            while (i := self._claim()) is not None:
                status = self._send(session, i)
                with self._lock:
                    self.statuses[i] = status

    def _send(self, session: requests.Session, i: int) -> int:
        """POST item ``i`` until answered other than 503 / no answer, as a phone would retry (same submission_id)."""
        token, body = self.items[i]
        for attempt in range(self.ATTEMPTS):
            try:
                response = session.post(self.url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
                status, detail, wait = response.status_code, response.text[:200], response.headers.get("Retry-After")
            except requests.RequestException as e:
                status, detail, wait = 0, repr(e), None
                with self._lock:
                    self.unanswered.add(i)
            if status != 202 and len(self.errors) < 20:
                self.errors.append(f"{status} {detail}")
            if status not in (0, 503) or attempt == self.ATTEMPTS - 1:
                return status
            with self._lock:
                self.retries += 1
            time.sleep(min(float(wait or 1), 2.0))  # the client's back-off, not a wait for a condition
        return status


def end_offsets(settings: Settings, topics, timeout: float = 30) -> dict[TopicPartition, int]:
    """The real end offset of every partition of ``topics``, from a fetch's high watermark.

    Tansu 0.6 answers ListOffsets(latest) with the base offset of the last
    record batch (see services/aggregate/jobs/replay.py), so a gzip-batched topic
    looks shorter than it is; a fetch response's high watermark is right.
    """
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, group_id=None)
    try:
        partitions = [
            TopicPartition(topic, p) for topic in topics for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        listed = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, listed[tp])  # fetch only the last batch (or nothing): enough for the watermark
        deadline = time.monotonic() + timeout
        while any(consumer.highwater(tp) is None for tp in partitions):
            if time.monotonic() > deadline:
                raise AssertionError(f"no high watermark for {topics} within {timeout} s")
            consumer.poll(timeout_ms=200)
        return {tp: max(consumer.highwater(tp), listed[tp]) for tp in partitions}
    finally:
        consumer.close()


def read_all(settings: Settings, topic: str, timeout: float = 60) -> list[dict]:
    """Every event on ``topic`` now, from the start to the end offsets read first."""
    ends = {tp: n for tp, n in end_offsets(settings, [topic]).items() if n > 0}
    if not ends:
        return []
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, group_id=None, max_poll_records=2000
    )
    seen: list[dict] = []
    try:
        consumer.assign(list(ends))
        consumer.seek_to_beginning(*ends)
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise AssertionError(f"reading {topic}: {len(seen)} events read before the deadline")
            for batch in consumer.poll(timeout_ms=500).values():
                seen.extend(json.loads(r.value) for r in batch if r.offset < ends[TopicPartition(r.topic, r.partition)])
        return seen
    finally:
        consumer.close()


def lag(settings: Settings) -> dict[str, int]:
    """Per consumer group, how many events on its topics are not yet committed."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="qc-crash-test")
    try:
        out = {}
        for group, topics in GROUPS.values():
            ends = end_offsets(settings, topics)
            committed = admin.list_group_offsets({group: list(ends)}).get(group, {})
            # max(…, 0): an event produced between reading the offsets and the ends is not lag yet.
            out[group] = sum(max(end - committed[tp].offset, 0) if tp in committed else end for tp, end in ends.items())
        return out
    finally:
        admin.close()


_ALERT_LINK = re.compile(r"/manager/alerts/([0-9a-f-]{36})")


def alert_mails(maildir: Path) -> Counter:
    """(alert id, recipient) -> how many alert e-mails (not digests) the SMTP sink received about it."""
    counts: Counter = Counter()
    for path in sorted(maildir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if not str(message["Subject"]).strip().startswith("["):  # "[Urgent] …", "[Important] …"; digests list many
            continue
        found = _ALERT_LINK.search(message.get_body(("plain",)).get_content())
        counts[(found.group(1) if found else None, str(message["To"]))] += 1
    return counts


def log_size(stack: Stack, name: str) -> int:
    """How many bytes a process's log holds now (a restarted process appends to the same file)."""
    path = stack.var_dir / "log" / f"{name}.log"
    return path.stat().st_size if path.exists() else 0


def joined_since(stack: Stack, name: str, offset: int) -> bool:
    """True once a worker has logged "partitions assigned" (with some partitions) after byte ``offset``."""
    with open(stack.var_dir / "log" / f"{name}.log", "rb") as f:
        f.seek(offset)
        for raw in f.read().splitlines():
            if raw.startswith(b"{") and b"partitions assigned" in raw:
                with contextlib.suppress(json.JSONDecodeError):
                    line = json.loads(raw)
                    if line.get("message") == "partitions assigned" and line.get("count"):
                        return True
    return False


def facts_handled_again(stack: Stack) -> int:
    """Validated events the aggregation worker stored before and met again (its "roll-ups updated" log lines)."""
    again = 0
    for raw in (stack.var_dir / "log" / "aggregate-worker.log").read_bytes().splitlines():
        if raw.startswith(b"{") and b"roll-ups updated" in raw:
            with contextlib.suppress(json.JSONDecodeError):
                line = json.loads(raw)
                again += line.get("facts", 0) - line.get("new", 0)
    return again


def reap(procs: dict[str, subprocess.Popen]) -> list[str]:
    """Names of processes that exited on their own (a worker that crashed by itself is a finding)."""
    return [name for name, proc in procs.items() if proc.poll() is not None]


def checks_in_month_sums(db) -> int:
    """The checks the organisation's stored month roll-ups count: what the aggregation worker counted (a site's
    roll-ups are counted from its facts, so the sums it keeps are where counting twice or missing would show)."""
    return sum(d["checks"] for d in db["agg_rollups"].find({"scope": "org", "period_kind": "month"}, {"checks": 1}))
