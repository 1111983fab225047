"""Runs the phases in order and prints the table; every stack it starts is stopped on the way out."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import e2e, intake, pipeline, stack
from bench.report import figures, machine
from bench.stats import format_table
from bench.usage_tables import format_cpu, format_database

SIZES = (10_000, 40_000, 78_000)


def main(argv: list[str] | None = None) -> int:
    """``python -m bench [--quick] [--phases intake,pipeline,e2e] [--keep]``."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--phases", default="intake,pipeline,e2e")
    parser.add_argument("--sizes", default=",".join(str(n) for n in SIZES), help="pipeline sizes")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per app")
    parser.add_argument("--e2e-seconds", type=int, default=60, help="long enough to see whether the stack keeps up")
    parser.add_argument(
        "--e2e-rate", type=int, default=e2e.RATE, help="submissions/s in the end-to-end phase (the target is at 100)"
    )
    parser.add_argument(
        "--budget", type=float, default=1800, help="seconds a pipeline drain may take before it is called unfinished"
    )
    parser.add_argument("--mongo-options", default="", help="extra MongoDB URI options, for experiments")
    parser.add_argument(
        "--env", action="append", default=[], metavar="QC_X=VALUE", help="a setting for every service (repeatable)"
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None and "intake" in args.phases:
        print("wrk is missing: `apt-get install wrk` (make bench does it)", file=sys.stderr)
        return 2
    stack.MONGO_OPTIONS = args.mongo_options
    stack.EXTRA_ENV = dict(item.split("=", 1) for item in args.env)
    root = Path(tempfile.mkdtemp(prefix="qc-bench-"))
    started = time.monotonic()
    results: dict = {"machine": machine(), "load_before": os.getloadavg()}
    print(f"qc bench: {results['machine']}; work directory {root}", flush=True)
    errors = []
    try:
        credentials = _seed(root)
        for phase in args.phases.split(","):
            try:
                PHASES[phase](root, credentials, args, results)
            except Exception as e:  # a failed phase must not lose the others' figures
                errors.append(f"{phase}: {type(e).__name__}: {e}")
                print(f"  {phase} failed: {e}", file=sys.stderr, flush=True)
    finally:
        results["minutes"] = (time.monotonic() - started) / 60
        results["load_after"] = os.getloadavg()
        results["errors"] = errors
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, default=str))
        if not errors and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"logs kept in {root}", file=sys.stderr)
    print()
    print(format_table(figures(results), title=_title(results)))
    cpu = format_cpu(results)
    if cpu:
        print()
        print(cpu)
        print("(2 cores in all; the load generators' own CPU is not in these figures)")
    database = format_database(results)
    if database:
        print()
        print(database)
    for error in errors:
        print(f"not measured: {error}")
    return 1 if errors else 0


def _intake(root: Path, credentials: dict, args, results: dict) -> None:
    print("intake: hello, skeleton, floor, intake under gunicorn (wrk, then 300 req/s) …", flush=True)
    s = stack.make_stack(root, "intake")
    try:
        stack.start(s, root)
        stack.copy_directory(s)
        results["intake"] = intake.measure(s, root, credentials, args.seconds, fixed_seconds=10)
    finally:
        s.stop()


def _pipeline(root: Path, credentials: dict, args, results: dict) -> None:
    results["pipeline"] = []
    for count in (int(n) for n in args.sizes.split(",")):
        print(f"pipeline: {count:,} submissions …", flush=True)
        result = pipeline.measure(root, credentials, count, args.budget)
        results["pipeline"].append(result)
        print(
            f"  {result['done']:,} done, {result['rate']:,.0f} events/s "
            f"({result['seconds']:.1f} s + {result['startup_seconds']:.1f} s "
            f"start-up); bare consumer {result['raw']['rate']:,.0f}/s",
            flush=True,
        )


def _e2e(root: Path, credentials: dict, args, results: dict) -> None:
    print(f"end to end: {args.e2e_rate}/s for {args.e2e_seconds} s …", flush=True)
    results["e2e"] = e2e.measure(root, root, credentials, args.e2e_seconds, args.e2e_rate)


PHASES = {"intake": _intake, "pipeline": _pipeline, "e2e": _e2e}


def _seed(root: Path) -> dict:
    """The 1,500-site demo directory, seeded once; every phase copies it into its own database."""
    print("seeding the 1,500-site directory …", flush=True)
    s = stack.make_stack(root, "seed")
    try:
        stack.start(s, root)
        path = root / "credentials.json"
        stack.seed_directory(s, path)
        return json.loads(path.read_text())
    finally:
        s.stop()


def _title(results: dict) -> str:
    load = results["load_before"], results["load_after"]
    return (
        f"qc bench — {results['machine']}, Python {platform.python_version()}; "
        f"load average {load[0][0]:.1f} before, {load[1][0]:.1f} after; {results['minutes']:.1f} min"
    )
