"""The site and region pages' charts: geometry that says what the figures say (drawn as SVG by the templates)."""

from services.aggregate.web import charts


def test_a_line_chart_puts_each_period_on_the_axis_and_leaves_a_gap_where_there_is_no_figure():
    points = [("2026-11", 3.0), ("2026-12", None), ("2027-01", 1.0), ("2027-02", 2.0)]
    chart = charts.line_chart(points, 1, 3, [(3, "3 Good"), (1, "1 Not good")])
    assert [m["period"] for m in chart["markers"]] == ["2026-11", "2027-01", "2027-02"]
    assert len(chart["segments"]) == 2  # broken at December
    top, bottom = chart["ticks"][0]["y"], chart["ticks"][1]["y"]
    assert chart["markers"][0]["y"] == top and chart["markers"][1]["y"] == bottom  # 3 at the top, 1 at the bottom
    assert chart["markers"][2]["y"] == (top + bottom) / 2
    # The year is written under the first label and where it changes, not under every month.
    assert [label["lines"] for label in chart["labels"]] == [("Nov", "2026"), ("Dec", ""), ("Jan", "2027"), ("Feb", "")]
    xs = [label["x"] for label in chart["labels"]]
    assert xs == sorted(xs) and xs[0] == chart["left"] and xs[-1] == chart["right"]


def test_quarters_and_weeks_are_labelled_short():
    assert charts.period_label("2026-Q4", None) == ("Q4", "2026")
    assert charts.period_label("2026-W48", "2026-W47") == ("W48", "")


def test_each_questions_bar_is_split_by_share_of_the_answers_given():
    bars = charts.stacked_bars(
        {
            "respect": {"good": 1, "ok": 1, "not_good": 2, "skipped": 3},
            "feel-safe": {"good": 0, "ok": 0, "not_good": 0},
        },
        lambda qid: f"words for {qid}",
    )
    safe, respect = bars["rows"]  # in question id order
    assert safe["question"] == "words for feel-safe" and safe["parts"] == [] and safe["answered"] == 0
    assert [(p["kind"], p["n"], p["width"]) for p in respect["parts"]] == [
        ("good", 1, 160.0),
        ("ok", 1, 160.0),
        ("not_good", 2, 320.0),
    ]
    assert [p["x"] for p in respect["parts"]] == [0.0, 160.0, 320.0] and respect["skipped"] == 3
    assert bars["height"] == 2 * charts.BAR_ROW


def test_each_themes_bar_is_as_long_as_its_mentions_against_the_most_mentioned():
    themes = [
        {"theme": "food", "label": "Food and meals", "mentions": 6, "submissions": 4},
        {"theme": "staff", "label": "Staff", "mentions": 3, "submissions": 3},
        {"theme": "garden", "label": "Garden", "mentions": 0, "submissions": 0},
    ]
    bars = charts.theme_bars(themes)
    assert [r["width"] for r in bars["rows"]] == [charts.THEME_BAR_MAX, charts.THEME_BAR_MAX / 2, 0.0]
    assert [r["y"] for r in bars["rows"]] == [0, charts.THEME_ROW, 2 * charts.THEME_ROW]
    assert bars["height"] == 3 * charts.THEME_ROW and bars["rows"][0]["label"] == "Food and meals"
    assert charts.theme_bars([])["rows"] == [] and charts.theme_bars([])["height"] == charts.THEME_ROW
