"""The Kafka client as the services run it."""

from __future__ import annotations

import kafka.record.util as record_util


def test_record_batch_checksums_are_computed_in_c():
    # kafka-python falls back to a pure-Python CRC-32C without the crc32c package (pyproject.toml), which cost
    # a web process 5 % of its time under load; the fallback would pass every other test, so it is checked here.
    assert record_util.crc32c_c is not None
    assert record_util.calc_crc32c(memoryview(b"123456789")) == 0xE3069283  # the CRC-32C check value
