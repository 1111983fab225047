"""The benchmark's pure helpers: percentiles, the figures' rows and the printed table (no timing here)."""

from __future__ import annotations

import pytest

from bench import data
from bench.report import figures
from bench.stats import Figure, format_table, number, percentile
from bench.usage_tables import format_cpu


def test_percentile_interpolates_between_closest_ranks():
    values = [5, 1, 4, 2, 3]
    assert percentile(values, 0) == 1
    assert percentile(values, 50) == 3
    assert percentile(values, 100) == 5
    assert percentile([10, 20], 99) == pytest.approx(19.9)
    assert percentile([], 50) is None


def test_numbers_read_as_a_person_would():
    assert number(1234.4, "/s") == "1,234 /s"
    assert number(3.14159, "ms") == "3.14 ms"
    assert number(56.04, "s") == "56.0 s"
    assert number(None, "ms") == "n/a"


def test_table_aligns_columns_and_shows_ratio_and_target():
    rows = [
        Figure("intake", 900, "/s", 1800, "skeleton", ">= 60 %", False),
        Figure("hello", 7500, "/s", None, "the ceiling"),
    ]
    lines = format_table(rows, title="t").splitlines()
    assert lines[0] == "t"
    assert lines[1].split() == ["figure", "measured", "baseline", "ratio", "target", "met"]
    assert "0.50x" in lines[3] and lines[3].rstrip().endswith("NO")
    assert lines[4].startswith("hello") and "the ceiling" in lines[4]
    assert len({line.index("measured") for line in lines[1:2]}) == 1


def test_an_unfinished_pipeline_is_not_met_and_never_projected():
    run = {
        "count": 78_000,
        "done": 7_800,
        "rate": 100.0,
        "seconds": 78.0,
        "total_seconds": 81.0,
        "produced": {"seconds": 13.0, "mb": 80.0},
        "raw": {"rate": 7_000.0, "seconds": 11.0, "peak_rss_mb": 70.0},
        "memory": {},
        "memory_idle": {},
    }
    rows = {f.name: f for f in figures({"pipeline": [run]})}
    assert "pipeline 78,000: seconds, processing" not in rows  # no projection of what was not measured
    rate = rows["pipeline 78,000: events/s received -> roll-ups"]
    assert rate.met is False and "unfinished: 7,800 of 78,000" in rate.note
    finished = {f.name: f for f in figures({"pipeline": [{**run, "done": 78_000, "rate": 1000.0}]})}
    assert finished["pipeline 78,000: events/s received -> roll-ups"].met is True
    assert finished["pipeline 78,000: seconds, processing"].value == pytest.approx(78.0)


def test_the_validator_stage_is_shown_under_its_pipeline_size_when_measured():
    run = {
        "count": 10_000,
        "done": 6_000,
        "rate": 100.0,
        "seconds": 60.0,
        "total_seconds": 63.0,
        "decided": 9_000,
        "validator_rate": 150.0,
        "produced": {"seconds": 2.0, "mb": 10.0},
        "raw": {"rate": 6_000.0, "seconds": 1.7, "peak_rss_mb": 70.0},
        "memory": {},
        "memory_idle": {},
    }
    names = [f.name for f in figures({"pipeline": [run]})]
    validator = names.index("  of which validator: received -> decided")
    assert names[validator - 1] == "pipeline 10,000: events/s received -> roll-ups"
    row = figures({"pipeline": [run]})[validator]
    assert row.value == 150.0 and row.baseline == 6_000.0 and row.note == "[9,000 of 10,000]"
    older = {k: v for k, v in run.items() if k not in ("decided", "validator_rate")}
    assert "  of which validator: received -> decided" not in [f.name for f in figures({"pipeline": [older]})]


def test_an_end_to_end_run_whose_queue_grows_is_said_not_to_keep_up():
    def run(first, last):
        latency = {"p50": 500.0, "p99": 900.0, "seen": 10, "expected": 10}
        thirds = {"first": {**latency, "p50": first}, "last": {**latency, "p50": last}}
        return {"hop": latency, "rollup": latency, "alert": latency, "rate": 100, "rollup_thirds": thirds, "memory": {}}

    name = "e2e at 100/s: roll-up p50, last third of the sending"
    growing = {f.name: f for f in figures({"e2e": run(400.0, 9_000.0)})}[name]
    assert growing.met is False and growing.ratio == pytest.approx(22.5) and growing.baseline == 400.0
    steady = {f.name: f for f in figures({"e2e": run(400.0, 520.0)})}[name]
    assert steady.met is True


def test_site_addresses_are_distinct_private_addresses():
    addresses = {data.site_address(f"S{i:04d}") for i in range(1, 1501)}
    assert len(addresses) == 1500
    assert all(a.startswith("10.") for a in addresses)


def test_cpu_table_lists_every_process_per_window_with_a_total():
    results = {
        "intake": {"cpu": {"skeleton": {"database": 0.1, "skeleton-web": 1.2}, "intake": {"database": 0.95}}},
        "e2e": {"cpu": {"database": 0.9, "aggregate-worker": 0.25, "notify-worker": 0.3}},
    }
    lines = format_cpu(results).splitlines()
    assert lines[0].split("  ")[0] == "CPU, cores used while measured"
    assert [c.strip() for c in lines[0].split("  ") if c.strip()][1:] == [
        "skeleton (wrk)",
        "intake (wrk)",
        "e2e at 100/s",
    ]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert rows["database"] == ["0.10", "0.95", "0.90"]
    assert rows["aggregate-worker"] == ["0.25"]  # only measured in one window
    assert lines[-1].startswith("all of the stack") and lines[-1].split()[-3:] == ["1.30", "0.95", "1.45"]
    assert format_cpu({}) == ""


def test_cpu_of_this_process_grows_as_it_works():
    import os

    from bench.usage import cpu_seconds_of

    before = cpu_seconds_of(os.getpid())
    deadline = before + 0.05
    while cpu_seconds_of(os.getpid()) < deadline:  # burn CPU until /proc shows it: a deadline, not a sleep
        sum(range(10_000))
    assert cpu_seconds_of(os.getpid()) >= deadline
    assert cpu_seconds_of(2**22 + 7) == 0.0  # no such process


def test_intake_is_read_against_what_the_database_allows_it():
    run = {"rps": 150.0, "p50": 80.0, "p99": 200.0, "failed": 0, "ok": 1500}
    skeleton = {"rps": 1000.0, "p50": 10.0, "p99": 30.0, "failed": 0}
    results = {
        "intake": {
            "hello": {"rps": 5000.0, "p50": 1.0, "p99": 5.0, "failed": 0},
            "skeleton": skeleton,
            "intake": run,
            "intake_fixed": {"p99": 900.0, "failed": 0},
            "skeleton_fixed": {"p99": 3.0, "failed": 0},
            "database_ceiling": {"rate": 1200.0},
            "database": {"intake": {"requests": 6000, "collections": {}}},
            "memory": {},
        }
    }
    rows = {f.name: f for f in figures(results)}
    assert rows["  database: single-document writes (16 clients)"].value == 1200.0
    allowed = rows["intake vs. what the database allows it"]
    assert allowed.baseline == pytest.approx(300.0)  # 1,200 writes/s at 4 requests per submission
    assert allowed.ratio == pytest.approx(0.5) and "4.0 requests each" in allowed.baseline_name


def test_intake_is_read_against_the_floor_when_it_was_measured():
    run = {"rps": 300.0, "p50": 20.0, "p99": 60.0, "failed": 0, "ok": 3000}
    results = {
        "intake": {
            "hello": {"rps": 5000.0, "p50": 1.0, "p99": 5.0, "failed": 0},
            "skeleton": {"rps": 2000.0, "p50": 5.0, "p99": 30.0, "failed": 0},
            "floor": {"rps": 600.0, "p50": 12.0, "p99": 40.0, "failed": 2},
            "intake": run,
            "intake_fixed": {"p99": 40.0, "failed": 0},
            "skeleton_fixed": {"p99": 3.0, "failed": 0},
            "floor_fixed": {"p99": 20.0, "failed": 0},
            "memory": {},
        }
    }
    rows = {f.name: f for f in figures(results)}
    assert rows["  floor: skeleton + claim + wait for acks=all"].ratio == pytest.approx(0.3)
    assert rows["intake vs. the floor"].ratio == pytest.approx(0.5)
    assert rows["  floor: p99 latency at 300 req/s"].value == 20.0
    assert "[2 non-2xx in all runs]" in rows["  skeleton: parse + marshmallow + send"].note
