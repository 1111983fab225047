"""`make run`: the whole stack on its embedded defaults, supervised until Ctrl-C or `make stop`.

Starts everything through ``qc_tools.devstack.Stack``, seeds the demo data the first time, prints the URLs,
and then keeps every process up (``qc_tools.supervisor``): a broker started again gets its topics first
and its clients after it.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from pathlib import Path

from qc.settings import MIN_SECRET_KEY_LENGTH, Settings
from qc_tools.devstack import SERVICES, Stack, StackError, port_open, wait_until
from qc_tools.stopping import STOPPING
from qc_tools.supervisor import Supervisor


def install_secret_key(var_dir: Path) -> str:
    """This install's own QC_SECRET_KEY: made once, kept in var/secret-key (never committed: var/ is ignored)."""
    path = Path(var_dir) / "secret-key"
    if path.exists():
        key = path.read_text().strip()
        if len(key) >= MIN_SECRET_KEY_LENGTH:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Created readable by its owner only, before the key is written into it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return key


def supervise(stack: Stack, **options) -> Supervisor:
    """A supervisor of ``stack`` wired as `make run` wires it: the services stop while the broker is started
    again, and start after it once its topics are made. ``options`` go to ``Supervisor`` (delays, output)."""
    services = [f"{s}-{kind}" for s in SERVICES for kind in ("web", "worker")]
    return Supervisor(
        stack, on_restart=lambda name: after_restart(stack, name), dependents={"broker": services}, **options
    )


def after_restart(stack: Stack, name: str) -> None:
    """The embedded broker keeps its log in memory: once it is back, make the topics again (their partitions)."""
    if name != "broker":
        return
    host, port = stack._host_port(stack.settings.kafka_bootstrap)
    try:
        wait_until(lambda: port_open(host, port), 30, "broker", stack.procs["broker"])
        print(stack.run_cli("topics", "create").strip(), flush=True)
    except StackError as e:
        print(f"broker restarted, but its topics were not made: {e}", file=sys.stderr, flush=True)


def run(settings: Settings) -> int:
    """`make run`: start everything, seed if empty, print the URLs, wait for Ctrl-C."""
    # On one machine every request comes from 127.0.0.1, so a per-address
    # limit would throttle the demo as a whole (`qc demo-checks`); per-token
    # and sign-in limits stay on. Set the variable to choose otherwise.
    local = {"QC_RATE_LIMIT_SUBMISSIONS_PER_ADDRESS_PER_MINUTE": "0"}
    if "QC_SECRET_KEY" not in os.environ:
        local["QC_SECRET_KEY"] = install_secret_key(settings.var_dir)
    stack = Stack(settings.var_dir, {k: v for k, v in local.items() if k not in os.environ})
    try:
        print("starting broker, database and SMTP sink …", flush=True)
        stack.start_infrastructure(settings.var_dir / "db")
        print(stack.run_cli("topics", "create").strip(), flush=True)
        print(stack.run_cli("demo-seed", "--sites", "1500", "--if-empty").strip(), flush=True)
        print("starting services …", flush=True)
        stack.start_services()
        stack.wait_ready()
    except (StackError, KeyboardInterrupt) as e:
        print(f"could not start: {e}\nlogs are in {settings.var_dir / 'log'}", file=sys.stderr)
        stack.stop()
        return 1
    urls = stack.urls()
    print(
        f"""
qc is running.
  checker form and intake API  {urls["checks"]}/
  roll-up API                  {urls["aggregate"]}/api/v1/rollups/regions/R01
  alerts API                   {urls["notify"]}/api/v1/alerts
  metrics                      <service>/metrics, health <service>/healthz and /readyz
  demo credentials             {settings.var_dir / "demo-credentials.json"}
  e-mail sent by alerts        {settings.var_dir / "mail"}/*.eml
  logs                         {settings.var_dir / "log"}/
Stop with Ctrl-C here or `make stop`.""",
        flush=True,
    )
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    # One process that stops is started again, not a reason to stop them all (qc_tools/supervisor.py).
    supervisor = supervise(stack)
    try:
        while not stopping:
            time.sleep(0.5)
            if (settings.var_dir / "run" / STOPPING).exists():
                print("`make stop` is stopping the stack.", flush=True)
                return 0
            supervisor.check()
    except KeyboardInterrupt:
        pass
    print("stopping …", flush=True)
    stack.stop()
    return 0
