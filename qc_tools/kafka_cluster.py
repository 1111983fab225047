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


def node_name(node_id: int) -> str:
    """The process name of node ``node_id`` (1, 2, …) in the stack: the first is "broker", as the embedded one."""
    return "broker" if node_id == 1 else f"broker-{node_id}"


def start(stack: Stack, lib: Path, addresses: list[tuple[str, int]], data: Path) -> None:
    """A KRaft cluster of one node per (host, port), each a broker and a controller, its log under ``data``.

    One node for the fast run; three for the fault tests, with the internal topics on three copies
    and writes to them waiting for two (topics of our own get theirs from qc/topics.py).
    """
    nodes = len(addresses)
    controllers = [free_port() for _ in addresses]
    voters = ",".join(f"{i}@{host}:{controllers[i - 1]}" for i, (host, _) in enumerate(addresses, start=1))
    copies, insync = min(3, nodes), max(1, min(3, nodes) - 1)
    # Given as --cluster-id=…: a random id may start with "-", which would be read as an option.
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    classpath = f"{lib}/*"
    procs = []
    for node_id, (host, port) in enumerate(addresses, start=1):
        folder = data / f"node-{node_id}" if nodes > 1 else data
        folder.mkdir(parents=True, exist_ok=True)
        properties = folder / "server.properties"
        controller = controllers[node_id - 1]
        properties.write_text(_properties(node_id, host, port, controller, voters, folder, copies, insync))
        formatted = subprocess.run(
            ["java", "-cp", classpath, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c"]
            + [str(properties)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if formatted.returncode != 0:
            raise StackError(f"kafka storage format failed: {formatted.stdout}\n{formatted.stderr}")
        procs.append(stack.spawn(node_name(node_id), ["java", HEAP, "-cp", classpath, "kafka.Kafka", str(properties)]))
    # The nodes elect a controller among themselves: each opens its listener once a quorum is there.
    for (host, port), proc in zip(addresses, procs, strict=True):
        wait_until(lambda host=host, port=port: port_open(host, port), 120, "Apache Kafka", proc)
    bootstrap = ",".join(f"{host}:{port}" for host, port in addresses)
    wait_until(lambda: _answers(bootstrap, nodes), 120, "Apache Kafka's metadata", procs[0])


def _properties(
    node_id: int, host: str, port: int, controller: int, voters: str, folder: Path, copies: int, insync: int
) -> str:
    return "\n".join(
        [
            "process.roles=broker,controller",
            f"node.id={node_id}",
            f"controller.quorum.voters={voters}",
            f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}",
            f"advertised.listeners=PLAINTEXT://{host}:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={folder / 'log'}",
            # As docker-compose.yml's brokers: topics are made by `qc topics create`, never by a client.
            "auto.create.topics.enable=false",
            f"offsets.topic.replication.factor={copies}",
            f"transaction.state.log.replication.factor={copies}",
            f"transaction.state.log.min.isr={insync}",
            f"min.insync.replicas={insync}",
            f"default.replication.factor={copies}",
            "group.initial.rebalance.delay.ms=0",
            # The log cleaner looks for work every second (15 s by default), so a test sees compaction soon.
            "log.cleaner.backoff.ms=1000",
            # The tests' members use a 3 s session (tests/stack_env.py), below Kafka's 6 s floor.
            "group.min.session.timeout.ms=1000",
            "",
        ]
    )


def _answers(bootstrap: str, nodes: int = 1) -> bool:
    """True once the cluster serves metadata naming all its ``nodes`` (a listener opens a moment before)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    except KafkaError:
        return False
    try:
        return len(admin.describe_cluster()["brokers"]) >= nodes
    except KafkaError:
        return False
    finally:
        admin.close()


def main() -> int:
    """`make kafka`: a real Kafka on free ports under a temporary folder until Ctrl-C; then stopped, folder gone.

    ``--nodes 3`` (`make kafka NODES=3`) starts three brokers, as the fault tests do: run the stack on them
    with ``QC_TOPIC_REPLICATION_FACTOR=3``.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=1, choices=(1, 3), help="one node, or three brokers")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="qc-kafka-"))
    addresses = [("127.0.0.1", free_port()) for _ in range(args.nodes)]
    bootstrap = ",".join(f"{host}:{port}" for host, port in addresses)
    stack = Stack(folder, {"QC_KAFKA_BOOTSTRAP": bootstrap})
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        start(stack, jars(ROOT / "var"), addresses, folder / "kafka")
        copies = "" if args.nodes == 1 else f" QC_TOPIC_REPLICATION_FACTOR={args.nodes}"
        print(f"Apache Kafka is running: QC_KAFKA_BOOTSTRAP={bootstrap}{copies} (Ctrl-C stops it)", flush=True)
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
