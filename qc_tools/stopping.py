"""Stopping exactly what was started: every process recorded under var/run, services first, the broker last."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from qc.settings import SERVICES

STOPPING = "stopping"  # marker file under var/run: a `make stop` is in progress


_STOP_ORDER = [f"{s}-{kind}" for kind in ("web", "worker") for s in SERVICES] + ["smtp", "database", "broker"]


def stop_pids(var_dir: Path, timeout: float = 25, procs: dict | None = None) -> list[str]:
    """SIGTERM each recorded process (then SIGKILL after ``timeout``); returns names stopped."""
    run_dir = Path(var_dir) / "run"
    files = {p.stem: p for p in run_dir.glob("*.pid")} if run_dir.exists() else {}
    if not files:
        return []
    marker = run_dir / STOPPING
    marker.touch()
    stopped = []
    for name in sorted(files, key=lambda n: _STOP_ORDER.index(n) if n in _STOP_ORDER else -1):
        try:
            pid = int(files[name].read_text())
        except (FileNotFoundError, ValueError):
            continue  # stopped by someone else meanwhile
        proc = (procs or {}).get(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
            if proc is not None:  # our own child: wait on it so it is reaped
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(pid, signal.SIGKILL)
                    proc.wait()
            else:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline and alive(pid):
                    time.sleep(0.1)
                if alive(pid):
                    os.killpg(pid, signal.SIGKILL)
            stopped.append(name)
        files[name].unlink(missing_ok=True)
    marker.unlink(missing_ok=True)
    return stopped


def alive(pid: int) -> bool:
    """True while the process runs (a child of ours is reaped; another's zombie counts as gone)."""
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False
