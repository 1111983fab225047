"""Small trend charts as inline SVG: no JavaScript, readable by screen readers via their table."""

from __future__ import annotations

WIDTH, HEIGHT, PAD = 240, 60, 6


def sparkline(trend: list[dict]) -> dict:
    """Points and markers for a score trend (scores 1–3); gaps where a period had no check."""
    n = len(trend)
    step = (WIDTH - 2 * PAD) / max(n - 1, 1)
    segments, current, markers = [], [], []
    for i, point in enumerate(trend):
        if point["score"] is None:
            if current:
                segments.append(current)
            current = []
            continue
        x = PAD + i * step
        y = PAD + (3 - point["score"]) / 2 * (HEIGHT - 2 * PAD)
        current.append(f"{x:.1f},{y:.1f}")
        markers.append({"x": round(x, 1), "y": round(y, 1), "period": point["period"], "score": point["score"]})
    if current:
        segments.append(current)
    return {"width": WIDTH, "height": HEIGHT, "segments": [" ".join(s) for s in segments], "markers": markers}


def share_line(cells: list[dict], key: str = "share_good") -> dict:
    """Points for a share (0–1) per period; gaps where a period's figure is not shown (withheld or none)."""
    n = len(cells)
    step = (WIDTH - 2 * PAD) / max(n - 1, 1)
    segments, current, markers = [], [], []
    for i, point in enumerate(cells):
        if point.get(key) is None:
            if current:
                segments.append(current)
            current = []
            continue
        x = PAD + i * step
        y = PAD + (1 - point[key]) * (HEIGHT - 2 * PAD)
        current.append(f"{x:.1f},{y:.1f}")
        markers.append({"x": round(x, 1), "y": round(y, 1), "period": point["period"], "share": point[key]})
    if current:
        segments.append(current)
    return {"width": WIDTH, "height": HEIGHT, "segments": [" ".join(s) for s in segments], "markers": markers}
