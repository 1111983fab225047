"""Small trend charts as inline SVG: no JavaScript, readable by screen readers via their table."""

from __future__ import annotations

from qc import periods

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


# --- the larger charts of the site and region pages ---------------------------------------------------
# Drawn here rather than by a chart library: pygal's SVG leans on its own script for labels and
# matplotlib would add tens of MB to every web process (the budget is 150 MB); these are a few lines
# of geometry, and the page gives each one a title, a description and its figures in a table.

LINE_W, LINE_H = 640, 230
LEFT, RIGHT, TOP, BOTTOM = 96, 16, 14, 46
BAR_W, BAR_ROW, BAR_H = 640, 50, 22
BAR_KINDS = (("good", "Good"), ("ok", "OK"), ("not_good", "Not good"))
# Themes sit two to a row on a desktop and one on a phone: a narrower drawing keeps its words readable.
THEME_W, THEME_BAR_MAX, THEME_ROW = 360, 300, 46


def period_label(period: str, previous: str | None) -> tuple[str, str]:
    """A period as two short lines under an axis: "Nov" over "2026" (the year only where it changes)."""
    kind = periods.kind_of(period)
    year = period[:4]  # an ISO week's year for a week, the calendar year otherwise
    top = {"month": f"{periods.first_day(period):%b}", "quarter": period[5:], "week": period[5:]}[kind]
    return top, year if previous is None or previous[:4] != year else ""


def line_chart(points: list[tuple[str, float | None]], low: float, high: float, ticks: list[tuple[float, str]]) -> dict:
    """Geometry of a line over periods with labelled axes; a gap where a period has no figure."""
    plot_w, plot_h = LINE_W - LEFT - RIGHT, LINE_H - TOP - BOTTOM
    step = plot_w / max(len(points) - 1, 1)

    def y_of(value: float) -> float:
        return round(TOP + (high - value) / (high - low) * plot_h, 1)

    segments, current, markers, labels = [], [], [], []
    for i, (period, value) in enumerate(points):
        x = round(LEFT + i * step, 1)
        labels.append({"x": x, "lines": period_label(period, points[i - 1][0] if i else None)})
        if value is None:
            if current:
                segments.append(current)
            current = []
            continue
        current.append(f"{x},{y_of(value)}")
        markers.append({"x": x, "y": y_of(value), "period": period, "value": value})
    if current:
        segments.append(current)
    return {
        "width": LINE_W,
        "height": LINE_H,
        "left": LEFT,
        "right": LINE_W - RIGHT,
        "bottom": TOP + plot_h,
        "ticks": [{"y": y_of(v), "label": words} for v, words in ticks],
        "labels": labels,
        "segments": [" ".join(s) for s in segments],
        "markers": markers,
    }


def stacked_bars(questions: dict[str, dict], words) -> dict:
    """One bar per question of its good / OK / not good answers (skipped ones said in words), widths by share."""
    rows = []
    for i, (question_id, counts) in enumerate(sorted(questions.items())):
        answered = sum(counts.get(k, 0) for k, _ in BAR_KINDS)
        x, parts = 0.0, []
        for kind, label in BAR_KINDS:
            n = counts.get(kind, 0)
            width = round(BAR_W * n / answered, 1) if answered else 0.0
            if n:
                parts.append({"kind": kind, "label": label, "n": n, "x": round(x, 1), "width": width})
            x += width
        rows.append(
            {
                "question": words(question_id),
                "y": i * BAR_ROW,
                "parts": parts,
                "answered": answered,
                "skipped": counts.get("skipped", 0),
            }
        )
    return {"width": BAR_W, "height": max(len(rows), 1) * BAR_ROW, "bar_h": BAR_H, "rows": rows}


def trend_lines(trend: list[dict]) -> dict:
    """The score (1–3) and the share who think things will get better (0–100 %) over a trend's periods."""
    score = [(p["period"], p["score"]) for p in trend]
    sure = [(p["period"], p["confidence"].get("share_sure")) for p in trend]
    return {
        "score_chart": line_chart(score, 1, 3, [(3, "3 Good"), (2, "2 OK"), (1, "1 Not good")]),
        "sure_chart": line_chart(sure, 0, 1, [(1, "100%"), (0.5, "50%"), (0, "0%")]),
    }


def theme_bars(themes: list[dict]) -> dict:
    """One bar per theme (most mentioned first, as given), as long as its mentions against the most
    mentioned, with the number written just after it."""
    most = max((t["mentions"] for t in themes), default=0)
    rows = [
        {
            "label": t["label"],
            "mentions": t["mentions"],
            "submissions": t["submissions"],
            "y": i * THEME_ROW,
            "width": round(THEME_BAR_MAX * t["mentions"] / most, 1) if most else 0.0,
        }
        for i, t in enumerate(themes)
    ]
    return {"width": THEME_W, "height": max(len(rows), 1) * THEME_ROW, "bar_h": BAR_H, "rows": rows}
