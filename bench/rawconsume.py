"""The raw rate baseline, as its own process: a bare kafka-python consumer reading a topic from the start.

``python -m bench.rawconsume --bootstrap HOST:PORT --topic T --count N`` prints
JSON: seconds to read N records, records/s and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from kafka import KafkaConsumer, TopicPartition

from bench.usage import vm_hwm_mb
from qc.kafka import PARTITION_FETCH_BYTES


def main() -> int:
    """Read ``--count`` records of ``--topic`` as fast as kafka-python can, with the workers' client settings."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args()
    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        api_version=(3, 9),
        enable_auto_commit=False,
        max_poll_records=500,
        max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
    )
    partitions = [TopicPartition(args.topic, p) for p in sorted(consumer.partitions_for_topic(args.topic) or [])]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    read, started = 0, time.perf_counter()
    deadline = started + 600
    while read < args.count and time.perf_counter() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            read += len(records)
    seconds = time.perf_counter() - started
    consumer.close()
    print(json.dumps({"read": read, "seconds": seconds, "rate": read / seconds, "peak_rss_mb": vm_hwm_mb("self")}))
    return 0 if read >= args.count else 1


if __name__ == "__main__":
    sys.exit(main())
