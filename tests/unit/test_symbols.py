"""Every symbol means one thing across the whole app: the form's, the questions' and the board's."""

from __future__ import annotations

import json
import re

from qc.settings import ROOT

FORM_SYMBOLS = ROOT / "services" / "checks" / "web" / "templates" / "_symbols.html"
BOARD_SYMBOLS = ROOT / "services" / "notify" / "web" / "templates" / "_board.html"
# The board's "Is it better now?" faces are the form's answer faces on purpose: the same meaning.
SAME_MEANING = {"yes": "face-good", "a bit": "face-ok", "no": "face-not-good"}


def _drawings(path) -> dict[str, str]:
    """Each symbol's name and its drawing (the SVG between its branch and the next), comments left out."""
    text = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.S)
    parts = re.split(r"\{%-?\s*(?:el)?if name (?:==|in) (.+?)\s*%\}", text)
    drawings = {}
    for names, body in zip(parts[1::2], parts[2::2], strict=True):
        drawing = re.sub(r"\s+", " ", body.split("{%-")[0]).strip()
        for name in re.findall(r'"([a-z -]+)"', names):
            drawings[name] = drawing
    return drawings


def _question_symbols() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for path in sorted((ROOT / "schemas" / "question-sets").glob("*.json")):
        for question in json.loads(path.read_text())["questions"]:
            used.setdefault(question["symbol"], set()).add(question["id"])
    return used


def _named_in_form_templates(known: set[str]) -> set[str]:
    """Symbols the form's templates name themselves (not through a question or an answer)."""
    named = set()
    for path in (ROOT / "services" / "checks" / "web" / "templates").glob("*.html"):
        if path != FORM_SYMBOLS:
            named |= set(re.findall(r'"([a-z-]+)"', path.read_text())) & known
    return named


def test_a_question_symbol_belongs_to_one_question_in_every_version():
    shared = {symbol: ids for symbol, ids in _question_symbols().items() if len(ids) > 1}
    assert shared == {}, "one symbol for two questions"


def test_no_screen_uses_a_questions_symbol_for_something_else():
    known = set(_drawings(FORM_SYMBOLS))
    assert {"speaker", "clock", "who", "supporter"} <= known
    clash = _named_in_form_templates(known) & set(_question_symbols())
    assert clash == set(), "a question's symbol also stands for something on a screen"


def test_no_two_meanings_share_a_drawing():
    form, board = _drawings(FORM_SYMBOLS), _drawings(BOARD_SYMBOLS)
    assert form and board
    by_drawing: dict[str, set[str]] = {}
    for name, drawing in [*form.items(), *((f"board:{n}", d) for n, d in board.items())]:
        by_drawing.setdefault(drawing, set()).add(name)
    for board_name, form_name in SAME_MEANING.items():
        assert board[board_name] == form[form_name], f"the board's {board_name!r} is the form's {form_name!r}"
    shared = [names for names in by_drawing.values() if len(names) > 1]
    allowed = [{f"board:{b}", f} for b, f in SAME_MEANING.items()]
    thumbs = {"thumbs-up", "thumb-sideways", "thumbs-down"}  # one drawing, turned by its name
    assert [names for names in shared if names not in allowed and names != thumbs] == []
