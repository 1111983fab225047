"""A real Apache Kafka (KRaft) for the tests, from Apache Kafka's own jars: `make kafka`, `make test-kafka`.

The jars come from Maven Central (``deploy/kafka/pom.xml``, the version docker-compose.yml runs) into
``var/kafka/lib`` the first time; nothing downloaded is committed. Each node is one
``java kafka.Kafka`` process, broker and controller in one, started through ``Stack.spawn`` so it is
stopped like every other process of the stack. With ``QC_STACK_BROKER=kafka`` a ``Stack`` starts this
instead of the embedded broker, on the port ``QC_KAFKA_BOOTSTRAP`` names.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from qc.settings import ROOT
from qc_tools.devstack import Stack, StackError, free_port, port_open, wait_until

POM = ROOT / "deploy" / "kafka" / "pom.xml"
HEAP = "-Xmx512m"


def jars(var_dir: Path) -> Path:
    """The folder of Kafka's jars, fetched with Maven unless this pom's jars are there already."""
    lib = Path(var_dir) / "kafka" / "lib"
    stamp = lib / ".pom"
    if stamp.exists() and stamp.read_text() == POM.read_text():
        return lib
    if shutil.which("mvn") is None:
        raise StackError("Maven (mvn) is needed to fetch Apache Kafka's jars")
    shutil.rmtree(lib, ignore_errors=True)
    lib.mkdir(parents=True)
    command = ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={lib}"]
    result = subprocess.run([*command, "-DincludeScope=runtime"], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise StackError(f"Maven could not fetch Kafka's jars:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    stamp.write_text(POM.read_text())
    return lib


def start(stack: Stack, lib: Path, host: str, port: int, data: Path) -> None:
    """One KRaft node (broker and controller) listening on host:port, its log under ``data``, named "broker"."""
    controller = free_port()
    data.mkdir(parents=True, exist_ok=True)
    properties = data / "server.properties"
    properties.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{host}:{controller}",
                f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}",
                f"advertised.listeners=PLAINTEXT://{host}:{port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={data / 'log'}",
                # As docker-compose.yml's single broker: topics are made by `qc topics create`, never by a client.
                "auto.create.topics.enable=false",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "min.insync.replicas=1",
                "group.initial.rebalance.delay.ms=0",
                # The tests' members use a 3 s session (tests/stack_env.py), below Kafka's 6 s floor.
                "group.min.session.timeout.ms=1000",
                "",
            ]
        )
    )
    classpath = f"{lib}/*"
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    formatted = subprocess.run(
        ["java", "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(properties)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if formatted.returncode != 0:
        raise StackError(f"kafka storage format failed: {formatted.stdout}\n{formatted.stderr}")
    proc = stack.spawn("broker", ["java", HEAP, "-cp", classpath, "kafka.Kafka", str(properties)])
    wait_until(lambda: port_open(host, port), 90, "Apache Kafka", proc)
    wait_until(lambda: _answers(f"{host}:{port}"), 90, "Apache Kafka's metadata", proc)


def _answers(bootstrap: str) -> bool:
    """True once the broker serves metadata (its listener opens a moment before it can)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    except KafkaError:
        return False
    try:
        admin.list_topics()
        return True
    except KafkaError:
        return False
    finally:
        admin.close()


def main() -> int:
    """`make kafka`: a real Kafka on a free port under a temporary folder until Ctrl-C; then stopped, folder gone."""
    parser = argparse.ArgumentParser()
    parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="qc-kafka-"))
    port = free_port()
    stack = Stack(folder, {"QC_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}"})
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        start(stack, jars(ROOT / "var"), "127.0.0.1", port, folder / "kafka")
        print(f"Apache Kafka is running: QC_KAFKA_BOOTSTRAP=127.0.0.1:{port} (Ctrl-C stops it)", flush=True)
        while not stopping:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
