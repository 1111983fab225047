"""A checker asked to review the draft questions does it on their phone, in the form's own easy read.

For each question: "Is this question clear?" (Yes / Not sure / No) and a comment, any of them left if they
like; and whether their name may be shown with the questions (private unless they say yes). The start
page asks "Will you help with new questions?" while a review is waiting for them (pages.start).
"""

from __future__ import annotations

from flask import g, redirect, render_template, request, url_for

from services.checks import context
from services.checks.rules import question_drafting
from services.checks.stores.question_versions import QuestionVersions, VersionError
from services.checks.web.checker_session import bp, signed_in

CLEAR_SYMBOLS = {"yes": "face-good", "not_sure": "face-ok", "no": "face-not-good"}


@bp.get("/questions/review")
@signed_in
def review_questions():
    """The draft's questions, each with "Is this question clear?"."""
    return _review()


@bp.post("/questions/review")
@signed_in
def send_review():
    """Keep the review; a choice not on the page is refused with the question named."""
    return _review()


def _review():
    versions = QuestionVersions(context.ctx().db)
    draft = versions.to_review(g.checker["checker_id"])
    if draft is None:
        return render_template("question_review_gone.html"), 404
    errors, values = {}, request.form
    if request.method == "POST":
        answers, named, errors = question_drafting.read_review(request.form, draft["questions"])
        if not errors:
            person = context.ctx().directory.person(g.checker["checker_id"]) or {}
            try:
                versions.review(draft, g.checker["checker_id"], answers, person.get("name") if named else None)
            except VersionError:
                return render_template("question_review_gone.html"), 404
            return redirect(url_for(".questions_reviewed"), code=303)
    page = render_template(
        "question_review.html", draft=draft, values=values, errors=errors, clear_symbols=CLEAR_SYMBOLS
    )
    return page, 400 if errors else 200


@bp.get("/questions/review/thanks")
@signed_in
def questions_reviewed():
    """Thank you, and what happens next."""
    return render_template("question_review_thanks.html")
