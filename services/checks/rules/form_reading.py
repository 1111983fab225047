"""Reading the form's screens: pure functions, each error in plain words keyed by the field's id.

The no-JavaScript form (check_screens.py) saves a draft screen by screen; these turn what one screen
posted into the draft's values, or into the errors shown back above the screen.
"""

from __future__ import annotations

import datetime as dt

from qc import sharing
from qc.dates import parse_day
from services.checks.web.intake import visit_date_error

SCORES_FROM_FORM = {"3": 3, "2": 2, "1": 1, "skip": None}
MAX_COMMENT = 1000
MAX_ITEM = 500
MAX_ITEMS = 20
MAX_CONCERN = 2000


def read_answers(form, questions: list[dict]) -> tuple[dict, dict[str, str]]:
    """Answers to ``questions`` from a question screen, and an error for each one not answered."""
    answers, errors = {}, {}
    for question in questions:
        qid = question["id"]
        choice = form.get(f"score-{qid}")
        comment = (form.get(f"comment-{qid}") or "").strip()
        if choice not in SCORES_FROM_FORM:
            errors[f"score-{qid}"] = "Choose an answer. If you do not want to answer, choose “I don’t want to answer”."
        if len(comment) > MAX_COMMENT:
            errors[f"comment-{qid}"] = f"What you wrote is too long. Please use {MAX_COMMENT} letters or fewer."
        # An answer without "score" is one not chosen yet (only shown back, never stored).
        # Who may see the name is chosen once per check (the draft's name_share), not per answer.
        answers[qid] = {"comment": comment}
        if choice in SCORES_FROM_FORM:
            answers[qid]["score"] = SCORES_FROM_FORM[choice]
    return answers, errors


def read_lines(text: str | None, field: str = "items") -> tuple[list[str], dict[str, str]]:
    """Each non-empty line is one thing; at most 20 things of at most 500 letters."""
    items = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(items) > MAX_ITEMS:
        return items, {field: f"You wrote more than {MAX_ITEMS} things. Please put some of them together."}
    if any(len(item) > MAX_ITEM for item in items):
        return items, {field: f"One thing is too long. Please use {MAX_ITEM} letters or fewer for each thing."}
    return items, {}


def read_concern(text: str | None, *, required: bool) -> tuple[str, dict[str, str]]:
    """What the checker is worried about; needed only when they ask to send it now."""
    concern = (text or "").strip()
    if required and not concern:
        return concern, {"concern": "Write what you are worried about, then press the button again."}
    if len(concern) > MAX_CONCERN:
        return concern, {"concern": f"What you wrote is too long. Please use {MAX_CONCERN} letters or fewer."}
    return concern, {}


def read_share(form, field: str) -> str:
    """Named only when the checker chose it; anything else keeps their name private (the safe choice)."""
    return sharing.NAMED if form.get(field) == sharing.NAMED else sharing.ANONYMOUS


def read_answered_by(form) -> tuple[str | None, dict[str, str]]:
    """Who is answering: one of the three choices, or an error asking to choose."""
    choice = form.get("answered_by")
    if choice not in sharing.ANSWERED_BY:
        return None, {"answered-by": "Choose who is answering the questions."}
    return choice, {}


VISIT_CHOICES = ("today", "yesterday", "other")
FORM_VISIT_DAYS = 30  # the form offers the last 30 days; the API takes up to settings.visit_window_days


DAY_BOXES = ("day", "month", "year")  # the GOV.UK date pattern: three boxes, named visited_on_<part>


def read_visit(form, today: dt.date, window_days: int) -> tuple[str | None, dict[str, str]]:
    """The day of the visit as an ISO date: today, yesterday or a day the checker gives (never in the future).

    Another day is written in three boxes (day, month, year); a page from before them (kept on a
    phone for offline use) sends one, ``visited_on``, read whole.
    """
    choice = form.get("visited")
    if choice not in VISIT_CHOICES:
        return None, {"visited": "Choose the day you visited."}
    if choice != "other":
        return (today - dt.timedelta(days=0 if choice == "today" else 1)).isoformat(), {}
    boxes = written_day(form)
    written = [boxes[f"visited_on_{part}"] for part in DAY_BOXES]
    one_box = (form.get("visited_on") or "").strip()
    example = today - dt.timedelta(days=7)  # a day that would be accepted, unlike the first or last allowed
    like = f"{example.day} {example.month} {example.year}"
    if not any(written) and not one_box:
        return None, {"visited-on": f"Write the day, month and year you visited, for example {like}."}
    missing = [part for part, text in zip(DAY_BOXES, written, strict=True) if not text]
    if any(written) and missing:
        return None, {"visited-on": f"Write the {' and '.join(missing)} you visited, for example {like}."}
    day = parse_day("/".join(written) if any(written) else one_box)
    if day is None:
        return None, {"visited-on": f"Write a day that exists, for example {like} (day, month, year)."}
    error = visit_date_error(day, today, window_days)
    if error:
        return None, {"visited-on": error}
    return day.isoformat(), {}


def written_day(form) -> dict[str, str]:
    """The three day boxes as the checker typed them (shown back with an error), each trimmed."""
    return {f"visited_on_{part}": (form.get(f"visited_on_{part}") or "").strip()[:10] for part in DAY_BOXES}


def day_boxes(iso: str) -> dict[str, str]:
    """A stored day (2026-11-03) as the three boxes show it: 3, 11, 2026."""
    day = dt.date.fromisoformat(iso)
    return {"visited_on_day": str(day.day), "visited_on_month": str(day.month), "visited_on_year": str(day.year)}
