"""Pure helpers: percentiles, figures with their baseline and target, and the printed table."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) by linear interpolation between closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize_ms(seconds: Sequence[float]) -> dict:
    """p50/p99/max in milliseconds of latencies given in seconds."""
    ms = [s * 1000 for s in seconds]
    return {"count": len(ms), "p50": percentile(ms, 50), "p99": percentile(ms, 99), "max": max(ms, default=None)}


@dataclasses.dataclass
class Figure:
    """One row: a measured value, the baseline it is read against, and the target (if the issue sets one)."""

    name: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """value / baseline, when both are there."""
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline


def number(value: float | None, unit: str = "") -> str:
    """A figure as a person reads it: thousands separated, sensible decimals."""
    if value is None:
        return "n/a"
    if unit in ("s",) or abs(value) < 10:
        text = f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"
    else:
        text = f"{value:,.0f}"
    return f"{text} {unit}".strip()


def format_table(figures: Sequence[Figure], title: str = "") -> str:
    """One aligned plain-text table: figure, measured, baseline, ratio, target, met."""
    header = ("figure", "measured", "baseline", "ratio", "target", "met")
    rows = []
    for f in figures:
        baseline = f"{number(f.baseline, f.unit)} ({f.baseline_name})" if f.baseline is not None else f.baseline_name
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else ""
        met = {True: "yes", False: "NO", None: ""}[f.met]
        measured = number(f.value, f.unit) + (f" {f.note}" if f.note else "")
        rows.append((f.name, measured, baseline, ratio, f.target, met))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    rule = "  ".join("-" * w for w in widths)
    lines = [title] if title else []
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    lines.append(rule)
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)
