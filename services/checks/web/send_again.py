"""A check that was not counted, opened again with its answers so the checker can change it and send it.

Only for reasons the checker can put right themselves (the day of the visit,
a form that changed since); the others need their supporter, and My checks
says so. The new check is a new submission (its own id, through the same
intake); the old one stays "not counted" and says it was sent again. A worry
in the old check is not copied: it reached the safeguarding lead with the
rejection already, and must not be raised twice.
"""

from __future__ import annotations

from flask import abort, g, redirect, url_for

from services.checks import context
from services.checks.rules.validation import FIXABLE_BY_CHECKER, can_send_again
from services.checks.stores.profiles import Drafts, steps
from services.checks.web.checker_session import bp, signed_in


def prefill(record: dict, old_draft: dict | None, question_set: dict) -> dict:
    """What the new draft starts with: the answers to questions still asked, who answered, what was written.

    The record keeps scores only; the comments and texts come from the form's
    own draft when it is still kept (a check sent from the page that works
    offline has none here, so those are written again).
    """
    asked = {q["id"] for q in question_set["questions"]}
    old_answers = (old_draft or {}).get("answers", {})
    answers = {
        a["question_id"]: {"score": a["score"], "comment": old_answers.get(a["question_id"], {}).get("comment", "")}
        for a in record.get("answers", [])
        if a["question_id"] in asked
    }
    old_draft = old_draft or {}
    return {
        "answers": answers,
        "answered_by": record.get("answered_by"),
        "working": list(old_draft.get("working", [])),
        "not_working": list(old_draft.get("not_working", [])),
        "sends_again": record["_id"],
    }


@bp.post("/my-checks/<submission_id>/send-again")
@signed_in
def send_again(submission_id: str):
    """Open a check that was not counted as a new draft with its answers, at the screen that needs changing."""
    ctx = context.ctx()
    checker_id = g.checker["checker_id"]
    record = ctx.submissions.get(submission_id)
    if record is None or record.get("checker_id") != checker_id or not can_send_again(record):
        abort(404)
    drafts = Drafts(ctx.db)
    question_set = ctx.question_sets.current(g.checker["site_id"])
    # A second press (a double tap, Back then the button again) opens the same new check, not another.
    draft = drafts.collection.find_one({"checker_id": checker_id, "sends_again": submission_id, "sent_at": None})
    if draft is None:
        draft = drafts.start(g.checker, question_set, g.profile.share_name)
        drafts.update(checker_id, draft["_id"], prefill(record, drafts.get(checker_id, submission_id), question_set))
    ref = draft["question_set"]
    question_set = ctx.question_sets.get(ref["id"], ref["version"]) or question_set
    first = next(FIXABLE_BY_CHECKER[r["code"]] for r in record["reasons"])
    name = first if first in steps(question_set, g.profile) else "check"
    return redirect(url_for(".step", draft_id=draft["_id"], name=name, **{"return": "check"}), code=303)
