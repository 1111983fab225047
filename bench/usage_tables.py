"""The tables under the figures: cores used by each process, and the database's requests and time per collection."""

from __future__ import annotations

from bench.report import E2E_RATE


def cpu_windows(results: dict) -> dict[str, dict[str, float]]:
    """The CPU each process used while a phase was measured, in cores, per phase (in the table's order)."""
    windows = {}
    for app in ("skeleton", "floor", "intake"):
        if app in results.get("intake", {}).get("cpu", {}):
            windows[f"{app} (wrk)"] = results["intake"]["cpu"][app]
    for run in results.get("pipeline", []):
        if "cpu" in run:
            windows[f"pipeline {run['count']:,}"] = run["cpu"]
    if "cpu" in results.get("e2e", {}):
        windows[f"e2e at {results['e2e'].get('rate', E2E_RATE)}/s"] = results["e2e"]["cpu"]
    return windows


def format_cpu(results: dict) -> str:
    """A second, small table: cores used per process in each measured window (the machine has two).

    It shows which process the others wait for: SecantusDB is one Python process, so it can use
    about one core at most, however many connections it serves.
    """
    windows = cpu_windows(results)
    if not windows:
        return ""
    order = ["broker", "database", "smtp", "hello-web", "skeleton-web", "floor-web"]
    order += [f"{s}-{k}" for s in ("checks", "aggregate", "notify") for k in ("web", "worker")]
    names = [n for n in order if any(n in w for w in windows.values())]
    names += sorted({n for w in windows.values() for n in w} - set(names))
    header = ["CPU, cores used while measured", *windows]
    rows = [[name, *(f"{w[name]:.2f}" if name in w else "" for w in windows.values())] for name in names]
    rows.append(["all of the stack", *(f"{sum(w.values()):.2f}" for w in windows.values())])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def database_windows(results: dict) -> dict[str, tuple[dict, int]]:
    """Per measured window: what the database counted, and how many submissions it was for."""
    windows = {}
    intake = results.get("intake", {})
    if "intake" in intake.get("database", {}):
        windows["intake (wrk)"] = (intake["database"]["intake"], intake["intake"].get("ok", 0))
    for run in results.get("pipeline", []):
        if "database" in run:
            windows[f"pipeline {run['count']:,}"] = (run["database"], run["done"])
    e2e = results.get("e2e", {})
    if "database" in e2e:
        windows[f"e2e at {e2e.get('rate', E2E_RATE)}/s"] = (e2e["database"], e2e["accepted"])
    return windows


def format_database(results: dict, busiest: int = 5) -> str:
    """A third table: the database's work per submission, from its own counters (``serverStatus``, ``top``).

    The database is the process every other waits for, so requests and busy time per submission
    are the figures that must fall for the throughput to rise.
    """
    rows = []
    for window, (use, submissions) in database_windows(results).items():
        if not submissions:
            continue
        collections = sorted(use["collections"].items(), key=lambda kv: -kv[1]["ms"])
        total_ms = sum(c["ms"] for _n, c in collections) or 1e-9
        top = ", ".join(
            f"{name} {c['count'] / submissions:.2f}× {100 * c['ms'] / total_ms:.0f} %"
            for name, c in collections[:busiest]
        )
        rows.append([window, f"{use['requests'] / submissions:.2f}", f"{total_ms / submissions:.2f}", top])
    if not rows:
        return ""
    header = ["database, per submission", "requests", "busy ms", "busiest collections: commands each, share of time"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)
