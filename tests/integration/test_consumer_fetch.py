"""The workers' consumers fetch little ahead (qc/kafka.py PARTITION_FETCH_BYTES), and still read an event larger
than that: a limit that stalled on one big event would stop a partition for good."""

from __future__ import annotations

import os

import pytest
from kafka import KafkaProducer

from qc.kafka import PARTITION_FETCH_BYTES, make_consumer
from tests.conftest import new_topic, wait_for

pytestmark = pytest.mark.integration


def test_a_worker_consumer_reads_an_event_larger_than_its_fetch_size(settings):
    topic = new_topic(settings, "qc.test.fetch")
    big = os.urandom(2 * PARTITION_FETCH_BYTES)  # random bytes: compression cannot bring it under the limit
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, compression_type="gzip", max_request_size=4 * PARTITION_FETCH_BYTES
    )
    try:
        producer.send(topic, b"before")
        producer.send(topic, big)
        producer.send(topic, b"after")
        producer.flush(timeout=10)
    finally:
        producer.close(timeout=10)
    consumer = make_consumer(settings, "qc-test-fetch")
    consumer.subscribe([topic])
    read: list[bytes] = []
    try:

        def all_read():
            for records in consumer.poll(timeout_ms=200).values():
                read.extend(r.value for r in records)
            return len(read) >= 3

        wait_for(all_read, 30, "the three events, the big one whole")
    finally:
        consumer.close()
    assert read == [b"before", big, b"after"]
