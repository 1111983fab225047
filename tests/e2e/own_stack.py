"""Helpers for the scaling and shutdown tests: a stack of their own, processes, validated events, recounts.

The session's stack (tests/conftest.py) runs the services of other modules
in the fixed consumer groups (qc-aggregate, …); tests that count what one
group did, or stop its members, need a broker where nobody else is in it.
Starting one takes about a second.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from pathlib import Path

from prometheus_client import CollectorRegistry, multiprocess

from qc import events, periods
from qc.kafka import Publisher, create_topics, make_producer
from qc.settings import TOPICS
from qc_tools.devstack import Stack, port_open, wait_until
from services.aggregate.stores.rollups import RollupStore
from tests.conftest import wait_for
from tests.stack_env import stack_env

QUESTIONS = ("listened-to", "feel-safe", "home-clean", "respect")
BANDS = {3: "good", 2: "ok", 1: "not_good", None: "skipped"}


def own_env(var: Path, **extra: str) -> dict[str, str]:
    """Settings for a stack on free ports under ``var``: a short shutdown drain; ``extra`` wins."""
    return stack_env(var, **{"QC_SHUTDOWN_DRAIN_SECONDS": "1.5", **extra})


@contextlib.contextmanager
def own_stack(var: Path, db_path: str | Path = ":memory:", **extra: str):
    """Infrastructure with the topics created; every process it started is stopped at the end.

    ``db_path``: the database's storage (a directory keeps it across ``restart``).
    """
    stack = Stack(var, own_env(var, **extra))
    try:
        stack.start_infrastructure(str(db_path))
        create_topics(stack.settings)
        yield stack
    finally:
        stack.stop(timeout=25)


def metrics_env(stack: Stack, name: str) -> dict[str, str]:
    """A fresh prometheus multiprocess directory called ``name`` under the stack's var dir."""
    path = stack.var_dir / "metrics" / name
    path.mkdir(parents=True, exist_ok=True)
    return {"PROMETHEUS_MULTIPROC_DIR": str(path)}


def start_worker(stack: Stack, name: str, service: str, env: dict[str, str]) -> subprocess.Popen:
    """One worker process of ``service`` (``python -m services.<service>.worker``)."""
    return stack.spawn(name, [sys.executable, "-m", f"services.{service}.worker"], env)


def start_web(stack: Stack, name: str, service: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    """``service``'s web app under gunicorn with the shared config, as `make run` starts it."""
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    argv = [
        gunicorn,
        "-c",
        "python:qc_tools.gunicorn_conf",
        "--bind",
        f"127.0.0.1:{port}",
        f"services.{service}.bootstrap:create_app()",
    ]
    return stack.spawn(name, argv, env)


def terminate(stack: Stack, name: str, timeout: float = 30) -> int:
    """SIGTERM one process's group, as `make stop` does; its exit code (it is killed at the deadline)."""
    proc = stack.procs.pop(name)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        (stack.var_dir / "run" / f"{name}.pid").unlink(missing_ok=True)
    return code


def stop_and_keep(stack: Stack, name: str, timeout: float = 30) -> list[str]:
    """SIGTERM one process (e.g. "database") and wait for it; the command line to ``restart`` it with."""
    argv = list(stack.procs[name].args)
    terminate(stack, name, timeout)
    return argv


def restart(stack: Stack, name: str, argv: list[str], port: int, timeout: float = 60) -> subprocess.Popen:
    """Start a process stopped by ``stop_and_keep`` again, as it was; returns once ``port`` accepts connections."""
    proc = stack.spawn(name, argv)
    wait_until(lambda: port_open("127.0.0.1", port), timeout, name, proc)
    return proc


def log_lines(stack: Stack, name: str) -> list[dict]:
    """The JSON log lines a process has written so far (gunicorn's own plain lines are skipped)."""
    path = stack.var_dir / "log" / f"{name}.log"
    if not path.exists():
        return []
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                lines.append(json.loads(raw))
    return lines


def validated_event(rng: random.Random, today: dt.date, sites: int = 24) -> dict:
    """A plausible ``submission.validated`` event (no safety answers, so notify raises no alerts from it)."""
    site = rng.randrange(sites)
    data = {
        "submission_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "checker_id": f"C{site:04d}",
        "site_id": f"S{site:04d}",
        "region_id": f"R{site % 4 + 1:02d}",
        "question_set": {"id": "everyday-life", "version": 1},
        "visited_on": (today - dt.timedelta(days=rng.randint(0, 40))).isoformat(),
        "answers": [
            {"question_id": q, "score": rng.choice((1, 2, 3, None)), "comment": "", "safety": False} for q in QUESTIONS
        ],
        "working": [],
        "not_working": [],
        "urgent_concern": None,
        "received_at": events.isoformat(events.now()),
        "validated_at": events.isoformat(events.now()),
        "content_hash": "0" * 64,
    }
    return events.make_event(
        "org.qc.submission.validated",
        source="qc/tests",
        subject=data["submission_id"],
        data=data,
        event_id=f"{data['submission_id']}:validated",
    )


def publisher_for(stack: Stack) -> Publisher:
    """A publisher on the stack's broker (close it)."""
    return Publisher(make_producer(stack.settings, "qc-tests"), source="qc/tests", timeout=10)


def send_validated(publisher: Publisher, batch: list[dict]) -> None:
    """Publish validated events keyed by site, as the validator does, and wait for the broker's ack."""
    for event in batch:
        publisher.send(TOPICS["validated"], event["data"]["site_id"], event)
    publisher.flush()


def recount(sent: list[dict]) -> dict[str, dict]:
    """Checks and answer bands per roll-up id (site, region, org × week, month, quarter), from the events."""
    expected = defaultdict(lambda: {"checks": 0, "bands": Counter()})
    for event in sent:
        data = event["data"]
        for period in periods.periods_of(dt.date.fromisoformat(data["visited_on"])).values():
            for scope_id in (f"site:{data['site_id']}", f"region:{data['region_id']}", "org:all"):
                figures = expected[f"{scope_id}:{period}"]
                figures["checks"] += 1
                for answer in data["answers"]:
                    figures["bands"][(answer["question_id"], BANDS[answer["score"]])] += 1
    return dict(expected)


def stored_rollups(db) -> dict[str, dict]:
    """aggregate's roll-ups as its readers see them, in the shape of ``recount``: the region and organisation
    ones stored, and each site's, counted from its facts (read through ``RollupStore``, as the pages do)."""
    docs = list(db["agg_rollups"].find())
    counted = {
        f"site:{f['site_id']}:{period}"
        for f in db["agg_facts"].find({}, {"site_id": 1, "periods": 1})
        for period in f["periods"].values()
    }
    docs += RollupStore(db).rollups_by_id(sorted(counted)).values()
    stored = {}
    for doc in docs:
        bands = Counter()
        for question, counts in doc["questions"].items():
            for band, n in counts.items():
                if n:
                    bands[(question, band)] += n
        assert doc["_id"] not in stored, f"{doc['_id']} is stored, yet counted from its facts"
        stored[doc["_id"]] = {"checks": doc["checks"], "bands": bands}
    return stored


def wait_rollups_equal_recount(db, sent: list[dict], timeout: float = 30) -> None:
    """Wait until every stored roll-up equals the recount of ``sent``: nothing counted twice, nothing missing."""
    expected = recount(sent)
    wait_for(lambda: stored_rollups(db) == expected, timeout, "the roll-ups to equal the independent recount")


def sample(multiproc_dir: Path, name: str, labels: dict[str, str]) -> float:
    """One sample merged across the processes that wrote ``multiproc_dir`` (dead ones' counters too); 0 if none."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(multiproc_dir))
    return registry.get_sample_value(name, labels) or 0.0
