"""Apache Kafka as an organisation runs it: three brokers, three copies of every partition, writes on two.

Runs in `make test-kafka` only (it needs Apache Kafka's jars and Java): the embedded broker is a single
process with no replication. One broker of the three is killed with SIGKILL while checks flow through
the intake, and started again: the intake keeps answering (two copies are enough to acknowledge a
write), no check answered 202 is lost, none is counted twice and no alert is raised twice.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time
from collections import Counter

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from pymongo import MongoClient

from qc import topics
from qc_tools.demo_checks import generate
from qc_tools.devstack import free_port, port_open
from qc_tools.kafka_cluster import node_name
from services.checks.stores import submissions as checks_store
from tests.conftest import wait_for
from tests.e2e import crash_tools
from tests.e2e.own_stack import own_stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.environ.get("QC_STACK_BROKER") != "kafka",
        reason="needs a cluster of Apache Kafka brokers: `make test-kafka` runs it (Java 17 and Maven)",
    ),
]
CHECKS = 240
RATE = 20.0  # POSTs a second: the kill lands with checks in flight at every stage


def _leaders(admin: KafkaAdminClient) -> Counter:
    """How many partitions of our topics each broker (by node id) leads."""
    described = admin.describe_topics([t.name for t in topics.TABLE])
    return Counter(p["leader_id"] for topic in described for p in topic["partitions"])


def _topics_as_the_table_says(admin: KafkaAdminClient, settings) -> None:
    """Every topic has three copies of each partition, and the configs qc/topics.py gives it."""

    def described():  # a topic just made has its partitions in every broker's metadata a moment later
        found = admin.describe_topics([t.name for t in topics.TABLE])
        return found if all(len(t["partitions"]) == settings.topic_partitions for t in found) else None

    for topic in wait_for(described, 30, "every topic's partitions"):
        assert {len(p["replica_nodes"]) for p in topic["partitions"]} == {3}, topic["name"]
    resources = [ConfigResource(ConfigResourceType.TOPIC, t.name) for t in topics.TABLE]
    described = admin.describe_configs(resources)
    found = {
        name: {key: entry["value"] for key, entry in configs.items()} for name, configs in described["topic"].items()
    }
    for topic in topics.TABLE:
        wanted = topics.configs(topic, settings)
        assert {key: found[topic.name].get(key) for key in wanted} == wanted, topic.name
    assert topics.configs(topics.TABLE[0], settings)["min.insync.replicas"] == "2"


def test_a_broker_of_three_killed_mid_stream_loses_no_check_and_counts_none_twice(tmp_path, report):
    bootstrap = ",".join(f"127.0.0.1:{free_port()}" for _ in range(3))
    with own_stack(
        tmp_path, QC_STACK_BROKER="kafka", QC_KAFKA_BOOTSTRAP=bootstrap, QC_TOPIC_REPLICATION_FACTOR="3"
    ) as stack:
        admin = KafkaAdminClient(bootstrap_servers=stack.settings.kafka_bootstrap, client_id="qc-tests")
        client = MongoClient(stack.settings.mongo_uri, tz_aware=True)
        db = client[stack.settings.mongo_db]
        try:
            _topics_as_the_table_says(admin, stack.settings)
            credentials = tmp_path / "credentials.json"
            stack.run_cli("demo-seed", "--sites", "12", "--credentials", str(credentials))
            stack.start_services()
            stack.wait_ready(timeout=120)
            items = generate(json.loads(credentials.read_text()), CHECKS, seed=20, today=dt.date.today())
            sender = crash_tools.Sender(stack.urls()["checks"], items, RATE)
            sender.start()
            wait_for(lambda: len(sender.statuses) >= CHECKS // 3, 60, "a third of the checks to be answered")
            # The broker leading the most partitions: its share must move to the other two, mid-stream.
            victim_id = _leaders(admin).most_common(1)[0][0]
            victim = node_name(victim_id)
            os.killpg(stack.procs[victim].pid, signal.SIGKILL)
            stack.procs[victim].wait(30)
            killed_at = time.monotonic()
            wait_for(lambda: len(sender.statuses) >= 2 * CHECKS // 3, 90, "two thirds answered with a broker down")
            stack.respawn(victim)
            host, port = stack.settings.kafka_bootstrap.split(",")[victim_id - 1].split(":")
            wait_for(lambda: port_open(host, int(port)), 120, f"{victim} to listen again")
            down_for = time.monotonic() - killed_at
            sender.join(300)
            assert not sender.is_alive(), "the checks were not all answered within 5 minutes"
            answers = Counter(sender.statuses.values())
            # One broker down of three: writes still reach two copies, so the intake goes on answering 202.
            assert answers == {202: CHECKS}, f"answers {dict(answers)}; first errors {sender.errors[:5]}"
            accepted = [body["submission_id"] for _, body in items]

            seen = {}  # what the last look found, for the message if the wait runs out

            def all_counted():
                decided = {sid: d["status"] for sid, d in checks_store.decided(db, accepted).items()}
                seen.update(decided=len(decided), accepted=len(accepted))
                if len(decided) < len(accepted):
                    return None
                validated = {sid for sid, status in decided.items() if status == "validated"}
                facts = {d["_id"] for d in db["agg_facts"].find({}, {"_id": 1})}
                site_checks = crash_tools.checks_in_month_sums(db)
                seen.update(validated=len(validated), facts=len(facts), month_rollup_checks=site_checks)
                return (validated, site_checks) if facts == validated and site_checks == len(validated) else None

            validated, site_checks = wait_for(
                all_counted, 180, "every check answered 202 decided and counted once", detail=lambda: seen
            )
            alert_keys = Counter(a["key"] for a in db["alerts"].find({}, {"key": 1}))
            assert [key for key, n in alert_keys.items() if n > 1] == []  # none raised twice
            mails = crash_tools.alert_mails(stack.var_dir / "mail")
            assert [key for key, n in mails.items() if n > 1] == []  # none e-mailed twice to anyone
            log = (stack.var_dir / "log" / "checks-worker.log").read_text(errors="replace")
            assert "publishing the kept checks again" not in log, "the outbox took a broker of three for a lost log"
            report(
                f"a broker of three ({victim}) killed mid-stream for {down_for:.0f} s: {CHECKS} checks answered 202 "
                f"({sender.retries} retries by the phones), {len(validated)} validated and counted once "
                f"({site_checks} in the month roll-ups), {len(alert_keys)} alerts raised once each, lost 0"
            )
        finally:
            admin.close()
            client.close()
