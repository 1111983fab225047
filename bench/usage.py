"""What a stack's processes use while a phase is measured: peak memory, CPU per process, the database's own account."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from pymongo import MongoClient

from qc_tools.devstack import Stack

# --- memory: peak resident set size from /proc (psutil is not installed) ---


def vm_hwm_mb(pid: int) -> float | None:
    """Peak resident set size (VmHWM) of one process in MiB; None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def children(pid: int) -> list[int]:
    """Direct children of a process (gunicorn's workers under its master)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(FileNotFoundError):
            found.extend(int(c) for c in (task / "children").read_text().split())
    return found


def peak_rss(stack: Stack) -> dict[str, float]:
    """VmHWM per running process of the stack; a gunicorn app reports its largest process (master or worker),
    and under ``<name> (all processes)`` the sum of every one of them."""
    out = {}
    for name, proc in stack.procs.items():
        if proc.poll() is not None:
            continue
        pids = [proc.pid, *children(proc.pid)] if name.endswith("-web") else [proc.pid]
        values = [v for v in (vm_hwm_mb(p) for p in pids) if v is not None]
        if values:
            out[name] = max(values)
            if name.endswith("-web"):
                out[f"{name} (all processes)"] = sum(values)
    return out


# --- CPU: where the machine's two cores go during a measured window ---

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds_of(pid: int) -> float:
    """User + system CPU seconds one process has used so far; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15 of stat)


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU seconds so far per running process of the stack; a gunicorn app counts its master and workers."""
    out = {}
    for name, proc in stack.procs.items():
        if proc.poll() is not None:
            continue
        pids = [proc.pid] + (children(proc.pid) if name.endswith("-web") else [])
        out[name] = sum(cpu_seconds_of(p) for p in pids)
    return out


class CpuWindow:
    """CPU used by each process of a stack between ``start()`` and ``stop()``, in cores (1.0 = one core busy)."""

    def __init__(self, stack: Stack, extra_pids: dict[str, int] | None = None):
        self.stack, self.extra = stack, extra_pids or {}
        self._before: dict[str, float] = {}
        self._started = 0.0

    def _now(self) -> dict[str, float]:
        return cpu_seconds(self.stack) | {n: cpu_seconds_of(p) for n, p in self.extra.items()}

    def start(self) -> None:
        """Note every process's CPU so far."""
        self._before, self._started = self._now(), time.monotonic()

    def stop(self) -> dict[str, float]:
        """Cores used per process since ``start()`` (a process started in between counts from zero)."""
        seconds = max(time.monotonic() - self._started, 1e-9)
        return {n: round((cpu - self._before.get(n, 0.0)) / seconds, 3) for n, cpu in self._now().items()}


# --- the database's own account: requests, and time per collection (MongoDB's ``top``) ---


def database_counters(stack: Stack) -> dict:
    """The database's request count and, per collection of the stack's database, commands and busy time.

    ``serverStatus`` and ``top`` are MongoDB's own commands (SecantusDB answers both), so this
    reads the same on a real MongoDB.
    """
    client = MongoClient(stack.settings.mongo_uri)
    try:
        status = client.admin.command("serverStatus")
        totals = client.admin.command("top")["totals"]
    finally:
        client.close()
    prefix = f"{stack.settings.mongo_db}."
    collections = {
        ns.removeprefix(prefix): {
            kind: {"count": t[kind]["count"], "ms": t[kind]["time"] / 1000}
            for kind in ("total", "queries", "insert", "update", "remove", "getmore", "commands")
            if kind in t
        }
        for ns, t in totals.items()
        if ns.startswith(prefix) and isinstance(t, dict) and "total" in t
    }
    return {"requests": status["network"]["numRequests"], "collections": collections}


class DatabaseWindow:
    """Requests the database answered between ``start()`` and ``stop()``, and its time per collection."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self._before: dict = {}

    def start(self) -> None:
        """Note the counters so far."""
        self._before = database_counters(self.stack)

    def stop(self) -> dict:
        """What changed since ``start()``: requests, and per collection commands and milliseconds."""
        after, before = database_counters(self.stack), self._before
        collections = {}
        for name, now in after["collections"].items():
            was = before["collections"].get(name, {})
            if now["total"]["count"] <= was.get("total", {}).get("count", 0):
                continue
            kinds = {}
            for kind, n in now.items():
                w = was.get(kind, {"count": 0, "ms": 0.0})
                if n["count"] > w["count"]:
                    kinds[kind] = {"count": n["count"] - w["count"], "ms": round(n["ms"] - w["ms"], 1)}
            # "count" and "ms" are the collection's totals; the rest by kind of command.
            collections[name] = {**kinds.pop("total"), "by_kind": kinds}
        # Two of the requests are this window's own (serverStatus and top at the start).
        return {"requests": after["requests"] - before["requests"] - 2, "collections": collections}
