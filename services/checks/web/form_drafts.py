"""What the screens of the form share: the checker's drafts, and how much may be sent or saved.

It imports no page module, so any of them can import it whatever order they load in.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import abort, current_app, g, render_template

from qc import rate_limited
from services.checks.stores.profiles import Drafts, steps


def _ctx():
    return current_app.extensions["qc.checks"]


def _wait_page(what: str, kept: str):
    """The calm page for a form post over a limit: what happened, how long to wait, that nothing is lost."""
    return lambda seconds: (
        render_template(
            "problem.html",
            heading="Please wait a moment",
            detail=f"{what} Wait {rate_limited.wait_words(seconds)}, then press the button again. {kept}",
        ),
        429,
    )


# Every way of sending a check shares the API's budget (per phone and per address).
FORM_SENDS = rate_limited.limit(
    "submissions",
    (rate_limited.by_address, "rate_limit_submissions_per_address_per_minute"),
    (rate_limited.by_checker_token, "rate_limit_submissions_per_minute"),
    page=_wait_page("A lot has been sent from here just now.", "Your answers are kept."),
    shared=False,  # the same budget as the API's, counted the same way
)

# Each save is a database write: a phone may save a lot, but not without end.
FORM_SAVES = rate_limited.limit(
    "saves",
    (rate_limited.by_checker_token, "rate_limit_form_saves_per_minute"),
    page=_wait_page("That was a lot of saving in a short time.", "Your answers so far are kept."),
    shared=False,  # every screen of the form saves: counted per process, like sending
)


def drafts() -> Drafts:
    """The drafts collection (its indexes made on first use in this app)."""
    store = Drafts(_ctx().db)
    if not current_app.extensions.get("qc.drafts_indexed"):
        store.ensure_indexes()
        current_app.extensions["qc.drafts_indexed"] = True
    return store


def question_set_of(draft: dict) -> dict:
    """The question set a draft answers (the current one if that version is gone)."""
    ref = draft["question_set"]
    return _ctx().question_sets.get(ref["id"], ref["version"]) or _ctx().question_sets.current()


def draft_or_404(draft_id: str) -> dict:
    """The signed-in checker's own draft, or Not found (someone else's draft is not found either)."""
    draft = drafts().get(g.checker["checker_id"], draft_id)
    if draft is None:
        abort(404)
    return draft


def today() -> dt.date:
    """Today where the service is (the validator uses the same day)."""
    return dt.datetime.now(ZoneInfo(_ctx().settings.timezone)).date()


def return_to(draft: dict, asked: str | None, default: str | None = None) -> str:
    """The screen of this check to go back to from a screen reached from any other (only one of its own)."""
    names = steps(question_set_of(draft), g.profile)
    if asked in (*names, "questions") or (asked or "").startswith("q-"):
        return asked
    return default or names[0]
