"""`qc status` / `make status`: every process of the `make run` stack, from its PID files and the supervisor.

For each: its PID, whether it runs, for how long, how often it was started again, its memory, and
whether it is ready (a web service's /readyz answers 200; the broker, database and SMTP sink accept
connections; a worker runs).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from qc.settings import Settings
from qc_tools.devstack import SERVICES, http_ok, port_open
from qc_tools.stopping import alive
from qc_tools.supervisor import STATE_FILE

ORDER = ["broker", "database", "smtp", *(f"{s}-{kind}" for s in SERVICES for kind in ("web", "worker"))]


def rows(settings: Settings) -> list[dict]:
    """One row per process recorded under var/run."""
    run_dir = Path(settings.var_dir) / "run"
    pids = {p.stem: p for p in run_dir.glob("*.pid")} if run_dir.exists() else {}
    state_file = run_dir / STATE_FILE
    supervised = json.loads(state_file.read_text()) if state_file.exists() else {}
    out = []
    for name in sorted(pids, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER)):
        try:
            pid = int(pids[name].read_text())
        except (FileNotFoundError, ValueError):
            continue
        known = supervised.get(name, {})
        running = alive(pid)
        out.append(
            {
                "process": name,
                "pid": pid,
                "state": "crash loop" if known.get("crash_loop") else "running" if running else "down",
                "up_seconds": round(time.time() - known["started_at"]) if running and known.get("started_at") else None,
                "restarts": known.get("restarts", 0),
                "memory_mb": _rss_mb(pid) if running else None,
                "ready": running and _ready(settings, name),
                "last_exit": known.get("last_exit"),
            }
        )
    return out


def table(found: list[dict]) -> str:
    """The rows as a plain table for the terminal."""
    if not found:
        return "nothing is running (no PID files under var/run)"
    lines = [f"{'process':<18}{'pid':>8}  {'state':<11}{'up':>9}{'restarts':>10}{'memory':>10}  ready  last exit"]
    for r in found:
        up = _duration(r["up_seconds"]) if r["up_seconds"] is not None else "–"
        memory = f"{r['memory_mb']:.0f} MB" if r["memory_mb"] is not None else "–"
        lines.append(
            f"{r['process']:<18}{r['pid']:>8}  {r['state']:<11}{up:>9}{r['restarts']:>10}{memory:>10}  "
            f"{'yes' if r['ready'] else 'NO':<5}  {r['last_exit'] or ''}"
        )
    return "\n".join(lines)


def _rss_mb(pid: int) -> float | None:
    """Resident memory of the process and its children (gunicorn's workers), in MB."""
    total, seen = 0, {pid}
    todo = [pid]
    while todo:
        current = todo.pop()
        status = Path(f"/proc/{current}/status")
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        for child in map(int, children):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return total / 1024 if total else None


def _ready(settings: Settings, name: str) -> bool:
    ports = {"checks": settings.checks_port, "aggregate": settings.aggregate_port, "notify": settings.notify_port}
    service, _, kind = name.partition("-")
    if kind == "web":
        return http_ok(f"http://{settings.bind_host}:{ports[service]}/readyz")
    if kind == "worker":
        return True  # it runs; its lag and liveness are on its service's /metrics
    address = {
        "broker": settings.kafka_bootstrap,
        "database": settings.mongo_uri.split("//", 1)[1].split("/", 1)[0].split("?")[0],
        "smtp": settings.smtp_url.split("//", 1)[1],
    }.get(name)
    if address is None:
        return False
    host, _, port = address.rpartition(":")
    return port_open(host, int(port))


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
