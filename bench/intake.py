"""Intake phase: wrk at full load and the open-loop generator at a fixed rate, against two baselines."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from bench import data, stack, usage
from bench.stats import percentile

LUA = Path(__file__).with_name("intake.lua")
CONNECTIONS = 16


def wrk(url: str, creds: Path, template: Path, seconds: int, run: int) -> dict:
    """One wrk run; req/s (answered 2xx), p50/p99 in ms and the failures."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA), url]
        + ["--", str(creds), str(template), str(run)],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    raw = json.loads(line.removeprefix("WRK_RESULT "))
    seconds_run = raw["duration_us"] / 1e6
    return {
        "rps": raw["ok"] / seconds_run,
        "p50": raw["p50_us"] / 1000,
        "p99": raw["p99_us"] / 1000,
        "failed": raw["failed"] + raw["socket_errors"],
        "requests": raw["requests"],
        "ok": raw["ok"],
    }


def fixed_rate(url: str, items: list[dict], rate: float, work: Path, name: str) -> dict:
    """The open-loop generator in its own process; p50/p99 in ms from each request's scheduled time."""
    src, dst = work / f"{name}-requests.jsonl", work / f"{name}-results.json"
    src.write_text("".join(json.dumps(it) + "\n" for it in items))
    subprocess.run(
        [sys.executable, "-m", "bench.loadgen", "--url", f"{url}/api/v1/submissions", "--rate", str(rate)]
        + ["--input", str(src), "--output", str(dst)],
        check=True,
        timeout=len(items) / rate + 120,
    )
    results = json.loads(dst.read_text())["results"]
    # An unanswered request (status 0) counts until the generator gave up on it: a lower bound.
    latencies = [r[1] * 1000 for r in results]
    return {
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "failed": sum(1 for r in results if r[0] not in (200, 202)),
        "results": results,
    }


def database_ceiling(uri: str) -> dict:
    """The bare database baseline (bench/rawdb.py) in its own process: small writes/s from 16 clients."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.rawdb", "--uri", uri, "--threads", str(CONNECTIONS)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout)


def measure(s, work: Path, credentials: dict, seconds: int, fixed_seconds: int) -> dict:
    """hello, skeleton, floor and the real intake: full-load req/s and latency, then p99 at 300 req/s."""
    today = dt.date.today()
    creds, template = work / "wrk-credentials.txt", work / "wrk-body.json"
    creds.write_text(data.wrk_credentials(credentials))
    template.write_text(data.wrk_template(today))
    out: dict = {"cpu": {}, "database": {}, "database_ceiling": database_ceiling(s.settings.mongo_uri)}
    print(f"  database: {out['database_ceiling']['rate']:,.0f} single-document writes/s (16 clients)", flush=True)
    urls = {
        "hello": stack.start_web(s, "hello-web", "bench.baselines:create_hello_app()", stack.free_port()),
        "skeleton": stack.start_web(s, "skeleton-web", "bench.baselines:create_skeleton_app()", stack.free_port()),
        "floor": stack.start_web(s, "floor-web", "bench.baselines:create_floor_app()", stack.free_port()),
        "intake": stack.start_service_web(s, "checks"),
    }
    for run, (name, url) in enumerate(urls.items(), start=1):
        wrk(url, creds, template, 2, run * 10)  # warm-up: connections, producer metadata, caches
        window, database = usage.CpuWindow(s), usage.DatabaseWindow(s)
        window.start()
        database.start()
        out[name] = wrk(url, creds, template, seconds, run * 10 + 1)
        out["cpu"][name], out["database"][name] = window.stop(), database.stop()
        print(f"  {name}: {out[name]['rps']:,.0f} req/s, p99 {out[name]['p99']:.1f} ms", flush=True)
    rate = 300
    count = rate * fixed_seconds
    for name, seed in (("skeleton", 301), ("floor", 303), ("intake", 302)):
        items = data.e2e_requests(credentials, count, today, urgent_share=0, seed=seed)
        out[f"{name}_fixed"] = fixed_rate(urls[name], items, rate, work, f"{name}-fixed")
        print(f"  {name} at {rate} req/s: p99 {out[f'{name}_fixed']['p99']:.1f} ms", flush=True)
    out["memory"] = usage.peak_rss(s)
    return out
