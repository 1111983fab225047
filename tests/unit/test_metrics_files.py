"""/metrics merges every process's metrics file; one caught between its creation and its first write is left out."""

import os
import struct
import subprocess
import sys

import pytest
from prometheus_client import CollectorRegistry, generate_latest, multiprocess

from qc import metrics


def test_a_file_not_written_yet_is_left_out_and_the_scrape_still_answers(tmp_path):
    # One real process's file, written by prometheus_client in a process of its own...
    code = "from prometheus_client import Counter; Counter('qc_probe_total', 'a probe').inc(3)"
    subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}, check=True
    )
    # ...and one a starting process has just created (0 bytes, as seen when a worker started during a scrape).
    (tmp_path / "counter_999999.db").touch()
    plain = CollectorRegistry()
    multiprocess.MultiProcessCollector(plain, path=str(tmp_path))
    with pytest.raises(struct.error):
        generate_latest(plain)  # what /metrics answered before: 500
    body, _content_type = metrics.exposition(str(tmp_path))
    assert b"qc_probe_total 3.0" in body
