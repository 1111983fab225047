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


def _classify_by_definition(text: str) -> list[str]:
    """What classify means, keyword by keyword: a phrase as a whole, a word as the keyword plus an ending."""
    clean = themes.normalise(text)
    words = clean.split()

    def matches(keyword: str) -> bool:
        if " " in keyword:
            return f" {keyword} " in f" {clean} "
        return any(w.startswith(keyword) and w[len(keyword) :] in themes._ENDINGS for w in words)

    return [t.id for t in THEMES if any(matches(k) for k in t.keywords)] or [themes.OTHER]


def test_classify_finds_what_trying_every_keyword_finds():
    import random

    rng = random.Random(7)
    keywords = [k for t in THEMES for k in t.keywords]
    vocabulary = [k + e for k in keywords for e in ("", "s", "ing", "ed", "ies", "x", "er", "teacher")]
    vocabulary += ["purple", "the", "and", "tea", "my", "S", "ties", "!"]
    assert any(" " in k for k in keywords)  # phrases are among them
    for _ in range(2000):
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 10)))
        assert themes.classify(text, THEMES) == _classify_by_definition(text), text
