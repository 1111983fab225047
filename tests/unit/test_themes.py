import pytest

from qc import themes
from qc.settings import ROOT

THEMES = themes.load_themes(ROOT / "deploy" / "themes.yaml")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("The MEALS are lovely!", ["food"]),
        ("Staff shouted at me", ["staff", "listened-to"]),
        ("lots of activities and trips", ["activities"]),
        ("I can see my mum on Sundays", ["people"]),
        ("The night shift is short of people", ["staff"]),
        ("purple", [themes.OTHER]),
        ("teacher", [themes.OTHER]),  # "tea" does not match words much longer than it
    ],
)
def test_classify(text, expected):
    assert themes.classify(text, THEMES) == expected


def test_group_counts_mentions_and_links_submissions():
    facts = [
        {"_id": "a", "working": ["nice food", "good dinners"], "not_working": ["broken heating"]},
        {"_id": "b", "working": ["the food"], "not_working": []},
        {"_id": "c", "working": ["my garden"], "not_working": ["zzz"]},
    ]
    grouped = themes.group(facts, THEMES)
    assert grouped["working"][0] == {
        "theme": "food",
        "label": "Food and meals",
        "mentions": 3,
        "submissions": 2,
        "submission_ids": ["a", "b"],
    }
    assert {t["theme"] for t in grouped["not_working"]} == {"home", themes.OTHER}


def test_a_bad_themes_file_is_refused(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("version: 1\nthemes:\n - {id: other, label: x, keywords: [a]}\n")
    with pytest.raises(themes.ThemesError, match="not 'other'"):
        themes.load_themes(path)
    path.write_text("version: 1\nthemes:\n - {id: a, label: x}\n")
    with pytest.raises(themes.ThemesError, match="keywords"):
        themes.load_themes(path)
