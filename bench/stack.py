"""A stack per phase: fresh ports, a fresh broker, a fresh database name, the directory copied in."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from pymongo import MongoClient

from qc.kafka import create_topics
from qc_tools.devstack import Stack, free_port, http_ok, wait_until

DIRECTORY_DB = "bench_directory"
DIRECTORY_COLLECTIONS = ("regions", "sites", "people", "checker_tokens")
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
# Extra MongoDB URI options for an experiment (``python -m bench --mongo-options retryWrites=false``).
MONGO_OPTIONS = ""
# Extra QC_* settings for every service of every phase (``--env QC_X=value``), for experiments.
EXTRA_ENV: dict[str, str] = {}


def make_stack(root: Path, name: str, **extra_env: str) -> Stack:
    """A Stack of its own under ``root/name``, every port free, its own database name."""
    var = root / name
    ports = {k: str(free_port()) for k in ("broker", "mongo", "smtp", "checks", "aggregate", "notify")}
    env = {
        "QC_KAFKA_BOOTSTRAP": f"127.0.0.1:{ports['broker']}",
        "QC_MONGO_URI": f"mongodb://127.0.0.1:{ports['mongo']}/?directConnection=true"
        + (f"&{MONGO_OPTIONS}" if MONGO_OPTIONS else ""),
        "QC_MONGO_DB": f"bench_{name}",
        "QC_SMTP_URL": f"smtp://127.0.0.1:{ports['smtp']}",
        "QC_CHECKS_PORT": ports["checks"],
        "QC_AGGREGATE_PORT": ports["aggregate"],
        "QC_NOTIFY_PORT": ports["notify"],
        "QC_CHECKS_PUBLIC_URL": f"http://127.0.0.1:{ports['checks']}",
        "QC_NOTIFY_PUBLIC_URL": f"http://127.0.0.1:{ports['notify']}",
        "QC_VAR_DIR": str(var),
        "QC_SECRET_KEY": secrets.token_urlsafe(32),
        # A year of weekly checks must pass the validator's visit window.
        "QC_VISIT_WINDOW_DAYS": "400",
        # As behind the production proxy (docker-compose's nginx): the load generators say in
        # X-Forwarded-For which care home's address each check comes from (bench/data.py).
        "QC_TRUSTED_PROXY_HOPS": "1",
        # A load test sends far more per checker than a person could: the limits are still
        # counted (their cost is part of the intake), just not reached. The per-checker limit
        # stays under 100 so that, like production's 30, it is decided exactly with one write per
        # request (qc/ratelimit.py); 1,500 checkers reach 99 a minute only above 2,400 req/s.
        # Per address, production's 300 a minute is counted mostly in memory, as 10^9 is here.
        "QC_RATE_LIMIT_SUBMISSIONS_PER_MINUTE": "99",
        "QC_RATE_LIMIT_SUBMISSIONS_PER_ADDRESS_PER_MINUTE": "1000000000",
        **extra_env,
        **EXTRA_ENV,
    }
    return Stack(var, env)


def start(stack: Stack, root: Path) -> None:
    """Broker, database (on disk under ``root/db``, as `make run` keeps it), SMTP sink and topics."""
    stack.start_infrastructure(root / "db")
    create_topics(stack.settings)


def seed_directory(stack: Stack, credentials: Path) -> None:
    """Load the 1,500-site demo directory once, into a database every phase copies from."""
    env = {**os.environ, **stack.env, "QC_MONGO_DB": DIRECTORY_DB}
    subprocess.run(
        [sys.executable, "-m", "qc_tools.cli", "demo-seed", "--sites", "1500", "--credentials", str(credentials)],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


def copy_directory(stack: Stack) -> None:
    """Give the phase's database the seeded directory (a few thousand documents: about a second)."""
    client = MongoClient(stack.settings.mongo_uri)
    try:
        source, target = client[DIRECTORY_DB], client[stack.settings.mongo_db]
        for name in DIRECTORY_COLLECTIONS:
            docs = list(source[name].find())
            if docs:
                target[name].insert_many(docs, ordered=False)
    finally:
        client.close()


def _metrics_env(stack: Stack, name: str) -> dict:
    metrics_dir = stack.var_dir / "metrics" / name
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    return {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}


def start_web(stack: Stack, name: str, app: str, port: int) -> str:
    """One WSGI app under gunicorn with the services' settings (qc_tools/gunicorn_conf.py); returns its URL."""
    service = name.removesuffix("-web")
    stack.spawn(
        name,
        [GUNICORN, "-c", "python:qc_tools.gunicorn_conf", "--bind", f"127.0.0.1:{port}", app],
        _metrics_env(stack, service),
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(f"{url}/healthz"), 60, f"{name} /healthz", stack.procs[name])
    return url


def start_service_web(stack: Stack, service: str) -> str:
    """A service's web app on its configured port."""
    port = getattr(stack.settings, f"{service}_port")
    url = start_web(stack, f"{service}-web", f"services.{service}.bootstrap:create_app()", port)
    wait_until(lambda: http_ok(f"{url}/readyz"), 60, f"{service} /readyz", stack.procs[f"{service}-web"])
    return url


def start_worker(stack: Stack, service: str) -> subprocess.Popen:
    """A service's Kafka worker (it shares the web app's metrics directory, as under `make run`)."""
    metrics_dir = stack.var_dir / "metrics" / service
    metrics_dir.mkdir(parents=True, exist_ok=True)
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    return stack.spawn(f"{service}-worker", [sys.executable, "-m", f"services.{service}.worker"], env)


def stop_one(stack: Stack, name: str, timeout: float = 25) -> None:
    """Stop one process this bench started (by its id), as `make stop` would."""
    proc = stack.procs.pop(name, None)
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    (stack.var_dir / "run" / f"{name}.pid").unlink(missing_ok=True)


# --- waiting on consumer groups ---


def group_committed(admin, group: str, topic: str) -> int:
    """Sum of a group's committed offsets on one topic (the count consumed, as offsets start at 0)."""
    offsets = admin.list_group_offsets(group).get(group, {})
    return sum(max(o.offset, 0) for tp, o in offsets.items() if tp.topic == topic)


def log_time_of(stack: Stack, name: str, message: str, after: float = 0.0) -> float | None:
    """Epoch seconds of the first JSON log line of process ``name`` with this message at or after ``after``."""
    path = stack.var_dir / "log" / f"{name}.log"
    if not path.exists():
        return None
    for line in path.read_text(errors="replace").splitlines():
        if message not in line:
            continue
        with contextlib.suppress(ValueError, KeyError):
            record = json.loads(line)
            if record.get("message") != message:
                continue
            stamp = record["time"]  # logging's asctime: local time, a comma before the milliseconds
            moment = time.mktime(time.strptime(stamp.split(",")[0], "%Y-%m-%d %H:%M:%S")) + int(stamp[-3:]) / 1000
            if moment >= after - 1:
                return moment
    return None
