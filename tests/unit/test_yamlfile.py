"""qc/yamlfile.py: versioned YAML files are read once, and every wrong item is named in one error."""

from __future__ import annotations

import pytest

from qc import key_questions, themes
from qc.yamlfile import YamlFileError, load_versioned_yaml
from services.notify.rules import alerts as rules


def _number(where: str, raw) -> int:
    if not isinstance(raw, int):
        raise YamlFileError(f"{where}: must be a whole number")
    return raw


def test_a_good_file_gives_each_item_made(tmp_path):
    path = tmp_path / "n.yaml"
    path.write_text("version: 2\nnumbers: [1, 2, 3]\n")
    assert load_versioned_yaml(path, "numbers", _number, version=2) == [1, 2, 3]


@pytest.mark.parametrize(
    "text,message",
    [
        ("version: 1\nnumbers: [1, 2]\n", "n.yaml: expected 'version: 2' and a list under 'numbers'"),
        ("version: 2\nnumber: [1]\n", "expected 'version: 2' and a list under 'numbers'"),
        ("version: 2\nnumbers: [", "n.yaml: cannot read numbers"),
    ],
)
def test_a_wrong_version_key_or_syntax_is_refused(tmp_path, text, message):
    path = tmp_path / "n.yaml"
    path.write_text(text)
    with pytest.raises(YamlFileError, match=message):
        load_versioned_yaml(path, "numbers", _number, version=2)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(YamlFileError, match=r"nope\.yaml: cannot read numbers"):
        load_versioned_yaml(tmp_path / "nope.yaml", "numbers", _number)


def test_every_wrong_item_is_named_in_one_error(tmp_path):
    path = tmp_path / "n.yaml"
    path.write_text("version: 1\nnumbers: [1, a, 3, b]\n")
    with pytest.raises(YamlFileError) as raised:
        load_versioned_yaml(path, "numbers", _number)
    assert str(raised.value) == (f"{path}: numbers[1]: must be a whole number; numbers[3]: must be a whole number")


def test_other_errors_from_an_item_are_not_taken_for_a_wrong_item(tmp_path):
    path = tmp_path / "n.yaml"
    path.write_text("version: 1\nnumbers: [1]\n")

    def broken(where, raw):
        raise KeyError("a bug, not a wrong file")

    with pytest.raises(KeyError):
        load_versioned_yaml(path, "numbers", broken)


@pytest.mark.parametrize(
    "loader,error,text,messages",
    [
        (
            rules.load_rules,
            rules.RulesError,
            "version: 1\nrules:\n - {id: a, kind: nope, severity: high, notify: [site_manager]}\n"
            " - {id: b, kind: safety_not_good, severity: high, notify: [site_manager]}\n"
            " - {id: c, kind: safety_not_good, severity: loud, notify: [site_manager]}\n",
            ["rules[0] (a): 'kind'", "rules[2] (c): 'severity'"],
        ),
        (
            themes.load_themes,
            themes.ThemesError,
            "version: 1\nthemes:\n - {id: other, label: x, keywords: [a]}\n - {id: a, label: x}\n",
            ["themes[0]: 'id' must be unique and not 'other'", "themes[1] (a): needs a 'label' and a list"],
        ),
        (
            key_questions.load_questions,
            key_questions.TeamFeedbackError,
            "version: 1\nquestions:\n  - {id: a, question: 'Q?'}\n  - {id: b, question: 'Q?', team_wording: 'W?'}\n"
            "  - {id: b, question: 'Q?', team_wording: 'W?'}\n",
            ["questions[0]: give exactly", "questions[2]: 'b' is listed twice"],
        ),
    ],
)
def test_each_loader_names_the_file_and_every_wrong_item(tmp_path, loader, error, text, messages):
    path = tmp_path / "f.yaml"
    path.write_text(text)
    with pytest.raises(error) as raised:
        loader(path)
    assert str(raised.value).startswith(f"{path}: ")
    for message in messages:
        assert message in str(raised.value)
    assert isinstance(raised.value, YamlFileError) and isinstance(raised.value, ValueError)
