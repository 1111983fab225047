"""From raw results to the table's rows: each figure beside its baseline and the issue's target."""

from __future__ import annotations

import os
from pathlib import Path

from bench.stats import Figure

INTAKE_SHARE = 0.50  # of the skeleton
INTAKE_RATE = 1200  # submissions/s
FIXED_P99_MS = 50
PIPELINE_RATE = 700  # events/s through to the roll-ups, the largest size fully drained (goal: GOAL_RATE)
PIPELINE_GOAL_RATE = 1300
LINEAR_WITHIN = 1.2  # time per event at the largest size against the smallest
E2E_P99_MS = 1000
MEMORY_MB = 150  # every service process
E2E_RATE = 100  # submissions/s, where the issue sets the end-to-end target
KEEPS_UP = 2  # the last third of an end-to-end run may wait at most this many times the first


def machine() -> str:
    """CPU model, cores and memory, from /proc."""
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    return f"{os.cpu_count()} cores {model}, {mem_kb / 2**20:.0f} GiB"


def figures(results: dict) -> list[Figure]:
    """Every row of the table, in the order of the issue."""
    rows: list[Figure] = []
    if "intake" in results:
        rows += _intake(results["intake"])
    if results.get("pipeline"):
        rows += _pipeline(results["pipeline"])
    if "e2e" in results:
        rows += _e2e(results["e2e"])
    rows += _memory(results)
    return rows


def _intake(r: dict) -> list[Figure]:
    hello, skeleton, real = r["hello"], r["skeleton"], r["intake"]
    rps_ok = real["rps"] >= INTAKE_SHARE * skeleton["rps"] and real["rps"] >= INTAKE_RATE
    failed = sum(x["failed"] for x in (hello, skeleton, real, r.get("floor", {"failed": 0})))
    return [
        Figure(
            "intake: submissions/s (wrk, 16 conn.)",
            real["rps"],
            "/s",
            skeleton["rps"],
            "skeleton",
            f">= {INTAKE_SHARE:.0%} of skeleton and >= {INTAKE_RATE:,}/s",
            rps_ok,
            note=f"[{real['failed']} failed]" if real["failed"] else "",
        ),
        Figure("  hello Flask app under the same gunicorn", hello["rps"], "/s", None, "the ceiling"),
        Figure(
            "  skeleton: parse + marshmallow + send",
            skeleton["rps"],
            "/s",
            hello["rps"],
            "hello",
            note=f"[{failed} non-2xx in all runs]" if failed else "",
        ),
        *_intake_floor(r),
        *_intake_ceiling(r),
        Figure("intake: p50 latency at full load", real["p50"], "ms", skeleton["p50"], "skeleton"),
        Figure("intake: p99 latency at full load", real["p99"], "ms", skeleton["p99"], "skeleton"),
        Figure(
            "intake: p99 latency at 300 req/s (open loop)",
            r["intake_fixed"]["p99"],
            "ms",
            r["skeleton_fixed"]["p99"],
            "skeleton",
            f"< {FIXED_P99_MS} ms",
            r["intake_fixed"]["p99"] < FIXED_P99_MS,
            note=f"[{r['intake_fixed']['failed']:,} not 2xx]" if r["intake_fixed"]["failed"] else "",
        ),
        *(
            [
                Figure(
                    "  floor: p99 latency at 300 req/s",
                    r["floor_fixed"]["p99"],
                    "ms",
                    r["skeleton_fixed"]["p99"],
                    "skeleton",
                )
            ]
            if "floor_fixed" in r
            else []
        ),
    ]


def _intake_floor(r: dict) -> list[Figure]:
    """The least a correct intake does (bench/baselines.py ``floor``), and the intake against it."""
    if "floor" not in r:
        return []
    floor = r["floor"]["rps"]
    return [
        Figure("  floor: skeleton + claim + wait for acks=all", floor, "/s", r["skeleton"]["rps"], "skeleton"),
        Figure("intake vs. the floor", r["intake"]["rps"], "/s", floor, "floor"),
    ]


def _intake_ceiling(r: dict) -> list[Figure]:
    """The database's small-write rate, and what it allows the intake given its requests per submission."""
    if "database_ceiling" not in r:
        return []
    ceiling = r["database_ceiling"]["rate"]
    rows = [Figure("  database: single-document writes (16 clients)", ceiling, "/s", None, "its ceiling")]
    for key, what in (
        ("insert_many_rate", "insert_many of 500"),
        ("bulk_replace_rate", "bulk ReplaceOne by _id of 500"),
    ):
        if key in r["database_ceiling"]:
            rows.append(Figure(f"  database: documents/s by {what}", r["database_ceiling"][key], "/s", None, "batched"))
    use, ok = r.get("database", {}).get("intake"), r["intake"].get("ok")
    if use and ok:
        per = use["requests"] / ok
        rows.append(
            Figure(
                "intake vs. what the database allows it",
                r["intake"]["rps"],
                "/s",
                ceiling / per,
                f"ceiling / {per:.1f} requests each",
            )
        )
    return rows


def _pipeline(runs: list[dict]) -> list[Figure]:
    rows = []
    for run in runs:
        n, raw = run["count"], run["raw"]
        target, met = "", None
        if n == max(r["count"] for r in runs):
            target = f">= {PIPELINE_RATE:,}/s (goal {PIPELINE_GOAL_RATE:,}), drained"
            met = run["done"] >= n and run["rate"] >= PIPELINE_RATE
        rows.append(
            Figure(
                f"pipeline {n:,}: events/s received -> roll-ups",
                run["rate"],
                "/s",
                raw["rate"],
                "bare consumer",
                target,
                met,
                note=_unfinished(run),
            )
        )
        if "validator_rate" in run:  # results from before this figure lack it
            rows.append(
                Figure(
                    "  of which validator: received -> decided",
                    run["validator_rate"],
                    "/s",
                    raw["rate"],
                    "bare consumer",
                    note="" if run["decided"] >= n else f"[{run['decided']:,} of {n:,}]",
                )
            )
    last = max(runs, key=lambda r: r["count"])
    if last["done"] >= last["count"]:  # drains are timed to the end: no projections
        rows.append(
            Figure(
                f"pipeline {last['count']:,}: seconds, processing",
                last["seconds"],
                "s",
                last["raw"]["seconds"],
                "bare consumer",
            )
        )
        rows.append(
            Figure(
                f"pipeline {last['count']:,}: seconds, incl. worker start-up",
                last["total_seconds"],
                "s",
                last["produced"]["seconds"],
                "producing it",
            )
        )
    first = min(runs, key=lambda r: r["count"])
    if first is not last:
        all_done = all(r["done"] >= r["count"] for r in runs)
        if all_done:  # compared only between finished runs
            per_event = first["rate"] / last["rate"]
            rows.append(
                Figure(
                    f"pipeline: time per event, {last['count']:,} vs {first['count']:,}",
                    per_event,
                    "x",
                    None,
                    "",
                    f"< {LINEAR_WITHIN} (linear)",
                    per_event < LINEAR_WITHIN,
                )
            )
    return rows


def _unfinished(run: dict) -> str:
    if run["done"] >= run["count"]:
        return ""
    return f"[unfinished: {run['done']:,} of {run['count']:,} in the {run['seconds']:.0f} s budget]"


def _e2e(r: dict) -> list[Figure]:
    hop, rate = r["hop"], r.get("rate", E2E_RATE)
    rows = []
    for key, what in (("rollup", "roll-up updated"), ("alert", "alert raised")):
        x = r[key]
        seen = f"[{x['seen']} of {x['expected']}]" if key == "rollup" else f"[{x['seen']} alerts]"
        rows.append(
            Figure(f"e2e at {rate}/s: 202 -> {what}, p50", x["p50"], "ms", hop["p50"], "one bare broker hop", note=seen)
        )
        met = x["p99"] is not None and x["p99"] < E2E_P99_MS
        rows.append(
            Figure(
                f"e2e at {rate}/s: 202 -> {what}, p99",
                x["p99"],
                "ms",
                hop["p99"],
                "one bare broker hop",
                # The target is set at 100/s; at another rate the figure is shown, not judged.
                f"< {E2E_P99_MS:,} ms" if rate == E2E_RATE else "",
                met if rate == E2E_RATE else None,
            )
        )
    thirds = r.get("rollup_thirds")
    if thirds and thirds["first"]["p50"] and thirds["last"]["p50"] is not None:
        # A stack that keeps up answers the last checks as fast as the first; one that queues does not.
        ratio = thirds["last"]["p50"] / thirds["first"]["p50"]
        rows.append(
            Figure(
                f"e2e at {rate}/s: roll-up p50, last third of the sending",
                thirds["last"]["p50"],
                "ms",
                thirds["first"]["p50"],
                "the first third",
                f"< {KEEPS_UP}x (keeps up)",
                ratio < KEEPS_UP,
            )
        )
    return rows


def _memory(results: dict) -> list[Figure]:
    peaks: dict[str, float] = {}
    for memory in _memories(results):
        for name, mb in memory.items():
            peaks[name] = max(peaks.get(name, 0), mb)
    raw = max((run["raw"]["peak_rss_mb"] for run in results.get("pipeline", [])), default=None)
    hello = results.get("intake", {}).get("memory", {}).get("hello-web")
    idle_db = min((run["memory_idle"].get("database", 0) for run in results.get("pipeline", [])), default=None)
    held = max((run["produced"]["mb"] for run in results.get("pipeline", [])), default=None)
    rows = []
    order = [f"{s}-{k}" for s in ("checks", "aggregate", "notify") for k in ("web", "worker")] + ["broker", "database"]
    for name in order:
        if name not in peaks:
            continue
        judged = name not in ("broker", "database")  # a service's own process: the target applies
        if name.endswith("-web"):
            baseline, what = hello, "hello worker"
        elif name.endswith("-worker"):
            baseline, what = raw, "bare consumer"
        elif name == "broker":
            baseline, what = held, "MiB of received events it holds"
        else:
            baseline, what = idle_db, "database idle"
        label = f"peak RSS {name}" + (" (largest gunicorn process)" if name.endswith("-web") else "")
        target = f"< {MEMORY_MB} MiB" if judged else ""
        rows.append(
            Figure(label, peaks[name], "MiB", baseline, what, target, peaks[name] < MEMORY_MB if judged else None)
        )
        if f"{name} (all processes)" in peaks:
            rows.append(
                Figure(f"  {name}: all its gunicorn processes", peaks[f"{name} (all processes)"], "MiB", None, "")
            )
    return rows


def _memories(results: dict):
    if "intake" in results:
        yield results["intake"]["memory"]
    for run in results.get("pipeline", []):
        yield run["memory"]
    if "e2e" in results:
        yield results["e2e"]["memory"]
