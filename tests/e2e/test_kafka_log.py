"""What Apache Kafka does to the log over time, and that the services live with it.

`qc.directory` is compacted: the broker keeps only the last event of each key (site, person, region).
A worker that starts with nothing (a new aggregate database, a new member of a new group) reads the
directory from the start of what is left, and must end up with every site and person as they are now.
(Retention, the other thing a log does over time: tests/integration/test_replay_guard.py, where a replay
refuses once the log no longer starts at offset 0.) Runs in `make test-kafka` only: the embedded broker
accepts a topic's cleanup policy but never compacts.
"""

from __future__ import annotations

import os

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from pymongo import MongoClient

from qc import topics
from qc.kafka import Publisher
from qc.settings import TOPICS
from services.checks.jobs.directory_events import directory_event
from tests.conftest import wait_for
from tests.e2e.own_stack import own_stack, start_worker

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.environ.get("QC_STACK_BROKER") != "kafka",
        reason="the embedded broker never compacts a topic: `make test-kafka` runs this on Apache Kafka",
    ),
]
RENAMES = 5


def _keys_on_the_log(settings) -> list[tuple[str, int]]:
    """(key, partition) of every event now on qc.directory, from the first offset the broker still has."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    try:
        topic = TOPICS["directory"]
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        ends = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        keys = []
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for batch in consumer.poll(timeout_ms=500).values():
                for r in batch:
                    if r.offset < ends[TopicPartition(r.topic, r.partition)]:
                        keys.append((r.key.decode(), r.partition))
        return keys
    finally:
        consumer.close()


def test_a_worker_starting_from_the_compacted_directory_has_every_site_as_it_is_now(tmp_path, report):
    with own_stack(tmp_path, QC_STACK_BROKER="kafka") as stack:
        settings = stack.settings
        # Compaction soon rather than in a week: small segments, any share of old events worth cleaning.
        directory = next(t for t in topics.TABLE if t.key == "directory")
        soon = {**topics.configs(directory, settings), "segment.ms": "200", "min.cleanable.dirty.ratio": "0.01"}
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="qc-tests")
        try:
            # The client's own check of the keys first describes the topic, which a broker that has only just
            # created it may answer with nothing ("Unrecognized configs"): the broker itself judges them here,
            # and the change is retried until it answers OK.
            def altered():
                resource = ConfigResource(ConfigResourceType.TOPIC, TOPICS["directory"], configs=dict(soon))
                answer = admin.alter_configs([resource], raise_on_unknown=False, incremental=True)
                return answer.get("topic", {}).get(TOPICS["directory"]) == "OK"

            wait_for(altered, 60, "the broker to take qc.directory's compaction settings", interval=0.5)
        finally:
            admin.close()
        stack.run_cli("demo-seed", "--sites", "6", "--credentials", str(tmp_path / "credentials.json"))
        client = MongoClient(settings.mongo_uri, tz_aware=True)
        db = client[settings.mongo_db]
        publisher = Publisher.for_settings(settings, "qc-tests", source="qc/checks/directory")
        try:
            site = db["sites"].find_one({"_id": "S0001"})
            for n in range(1, RENAMES + 1):  # the site renamed five times: five events under one key
                site["name"] = f"Rowan House (name {n})"
                publisher.publish_sync(
                    TOPICS["directory"], site["_id"], directory_event("site", site, secret_key=settings.secret_key)
                )
            db["sites"].update_one({"_id": "S0001"}, {"$set": {"name": site["name"]}})
            written = _keys_on_the_log(settings)
            assert [key for key, _ in written].count("S0001") == RENAMES + 1  # the seed's and the renames
            # The cleaner never touches the segment being written, and a partition's segment is closed only by
            # a new event on that partition once it is 200 ms old: a person whose events share the site's
            # partition is published again until the renames are in a closed segment, and compacted.
            partition = next(p for key, p in written if key == "S0001")
            person = db["people"].find_one({"_id": {"$in": [key for key, p in written if p == partition]}})
            assert person is not None, "no person shares the site's partition: choose another site"

            def compacted():
                event = directory_event("person", person, secret_key=settings.secret_key)
                publisher.publish_sync(TOPICS["directory"], person["_id"], event)
                keys = _keys_on_the_log(settings)
                return keys if [key for key, _ in keys].count("S0001") == 1 else None

            keys = wait_for(compacted, 120, "the broker to compact qc.directory", interval=0.5)
            expected = {d["_id"] for name in ("regions", "sites", "people") for d in db[name].find({}, {"_id": 1})}
            assert {key for key, _ in keys} == expected  # every key still there: compaction drops old values only

            # A worker with nothing of its own reads the directory from the start of what is left.
            fresh = f"{settings.mongo_db}_fresh"
            start_worker(stack, "aggregate-worker", "aggregate", {"QC_MONGO_DB": fresh})
            sites = {s["_id"]: s["name"] for s in db["sites"].find({}, {"name": 1})}

            def rebuilt():
                found = {s["_id"]: s.get("name") for s in client[fresh]["agg_sites"].find({}, {"name": 1})}
                return found if found == sites else None

            found = wait_for(rebuilt, 90, "the new worker's directory to hold every site as it is now")
            assert found["S0001"] == f"Rowan House (name {RENAMES})"
            report(
                f"qc.directory compacted from {len(written)} events to {len(keys)} ({len(expected)} keys, none lost); "
                "a worker starting "
                f"with an empty database rebuilt all {len(found)} sites from it, the renamed one as it is now"
            )
        finally:
            publisher.close()
            client.close()
