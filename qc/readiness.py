"""Readiness checks for /readyz: the database, the broker, and (under `make run`) the processes a service needs."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

from qc import mongo
from qc.settings import Settings

# Where `make run`'s supervisor (qc_tools/supervisor.py) keeps the state of every process, under var/run.
STATE_FILE = "supervisor.json"


def supervisor_state(settings: Settings) -> Path:
    """Where `make run`'s supervisor keeps the state of every process (absent elsewhere)."""
    return Path(settings.var_dir) / "run" / STATE_FILE


# What each service needs running to do its work, besides itself.
NEEDS = {
    "checks": ("broker", "database", "checks-worker"),
    "aggregate": ("broker", "database", "aggregate-worker"),
    "notify": ("broker", "database", "smtp", "notify-worker"),
}


def processes_ready(settings: Settings, service: str) -> Callable:
    """Readiness check: none of the processes ``service`` needs is in a crash loop (only under `make run`)."""

    def check():
        try:
            state = json.loads(supervisor_state(settings).read_text())
        except (OSError, ValueError):
            return  # not supervised here (docker compose), or the file is being replaced
        looping = [name for name in NEEDS[service] if state.get(name, {}).get("crash_loop")]
        if looping:
            raise RuntimeError(f"{', '.join(looping)} keeps stopping soon after it starts (crash loop)")

    return check


def mongo_ready(db) -> Callable:
    """Readiness check for the database."""
    return lambda: mongo.ping(db)


def kafka_ready(bootstrap: str) -> Callable:
    """Readiness check for the broker: its listener accepts a connection."""

    def check():
        errors = []
        for address in bootstrap.split(","):
            host, _, port = address.strip().rpartition(":")
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
                return
            except OSError as e:
                errors.append(f"{address}: {e}")
        raise ConnectionError("; ".join(errors))

    return check
