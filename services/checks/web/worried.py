"""'I am worried about something': one tap away on every screen, sent now on its own or kept with the check.

Sent now, the worry travels alone: a submission of kind "worry" (no answers,
so nothing counts it as a check) through the same intake as every check, and
notify raises the safeguarding alert at once. The check stays open for the
checker to finish; nothing they answered is sent before they say so. Kept,
the worry goes with the check when the check is sent.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from flask import g, redirect, request, url_for

from qc import events, sharing
from services.checks import context
from services.checks.rules import form_reading
from services.checks.web import intake
from services.checks.web.checker_session import bp, render_page, signed_in
from services.checks.web.form_drafts import draft_or_404, drafts, question_set_of, return_to, today

_TRY_AGAIN = (
    "We could not send your worry just now. It is kept here. Please press the button again in a minute. "
    "If someone is in danger now, call 999."
)
# Still waiting for the broker from a first press, or (very rarely) the same id with other content.
SEND_FAILED = {intake.UNAVAILABLE: _TRY_AGAIN, intake.CONFLICT: _TRY_AGAIN}


def worry_id(secret_key: str, written_in: str, day: str, body: dict) -> str:
    """The submission id of one worry: pressing "Send" twice (a double tap, Back and send again) sends the same
    worry once, never two alerts. Keyed with the service's secret: managers see a worry's words and its id, and
    must not be able to work out from them who sent a worry they chose to keep anonymous."""
    said = "\n".join((written_in, day, body["urgent_concern"], body["urgent_concern_share"], body["answered_by"]))
    digest = hmac.new(secret_key.encode(), said.encode(), hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def worry_body(submission_id: str, checker: dict, question_set: dict, day: str, concern: str, share: str, answered_by):
    """The intake body of a worry sent on its own: the worry, who wrote it and what may be shared; no answers."""
    return {
        "submission_id": submission_id,
        "kind": events.WORRY_ALONE,
        "site_id": checker["site_id"],
        "question_set": {"id": question_set["id"], "version": int(question_set["version"])},
        "visited_on": day,
        "answers": [],
        "working": [],
        "not_working": [],
        "urgent_concern": concern,
        "answered_by": answered_by if answered_by in sharing.ANSWERED_BY else sharing.DEFAULT_ANSWERED_BY,
        "urgent_concern_share": share,
    }


def _send_alone(written_in: str, question_set: dict, concern: str, share: str, answered_by) -> dict:
    """Send the worry on its own; {} once it is with the broker, else the error to show by the box (kept)."""
    day = today().isoformat()
    body = worry_body("", g.checker, question_set, day, concern, share, answered_by)
    body["submission_id"] = worry_id(context.ctx().settings.secret_key, written_in, day, body)
    result = intake.accept(context.ctx(), g.checker, body, request.headers.get("X-Correlation-ID"))
    if result.ok:  # accepted now, or this very worry was accepted before (a second press)
        return {}
    if result.outcome in SEND_FAILED:
        return {"concern": SEND_FAILED[result.outcome]}
    return {"concern": " ".join(e["message"] for e in result.errors) or SEND_FAILED[intake.UNAVAILABLE]}


# No sending limit here, unlike the check's screens: a worry is never turned away by a limit (a refusal
# could lose what was written), and notify makes the worries one checker sends within minutes one alert.
@bp.route("/check/<draft_id>/worried", methods=["GET", "POST"])
@signed_in
def worried_in_check(draft_id: str):
    """Say who will be told and when; send the worry now on its own, or keep it with the check."""
    return _worried_in(draft_or_404(draft_id))


def _worried_in(draft: dict):
    draft_id = draft["_id"]
    if draft["sent_at"] is not None:
        return redirect(url_for(".worried"), code=303)
    came_from = return_to(draft, request.values.get("from"))
    question_set = question_set_of(draft)
    errors = {}
    concern = draft["urgent_concern"]
    share = draft.get("urgent_concern_share") or sharing.DEFAULT_SHARE
    if request.method == "POST":
        send_now = request.form.get("action") == "send"
        concern, errors = form_reading.read_concern(request.form.get("concern"), required=send_now)
        share = form_reading.read_share(request.form, "share-concern")
        if not errors:
            # Kept first: if sending fails, the worry is still here.
            draft = (
                drafts().update(
                    g.checker["checker_id"], draft_id, {"urgent_concern": concern, "urgent_concern_share": share}
                )
                or draft
            )
            if not send_now:
                return redirect(url_for(".step", draft_id=draft_id, name=came_from), code=303)
            answered_by = draft.get("answered_by") or g.profile.answered_by  # before "Who is answering?": as usual
            errors = _send_alone(draft_id, question_set, concern, share, answered_by)
            if not errors:
                # Sent: it must not go again with the check.
                drafts().update(
                    g.checker["checker_id"], draft_id, {"urgent_concern": None, "worry_sent_at": events.now()}
                )
                return redirect(url_for(".worry_sent", draft_id=draft_id, **{"from": came_from}), code=303)
    return render_page(
        "worried.html",
        400 if errors else 200,
        action=url_for(".worried_in_check", draft_id=draft_id),
        back_href=url_for(".step", draft_id=draft_id, name=came_from),
        came_from=came_from,
        concern=concern,
        concern_share=share,
        errors=errors,
        in_check=True,
    )


@bp.route("/worried", methods=["GET", "POST"])
@signed_in
def worried():
    """The worried page from outside a check: kept goes into the open check (or a new one); sent goes alone."""
    store = drafts()
    draft = store.open_draft(g.checker["checker_id"])
    if request.method == "GET" and draft is not None:
        return redirect(url_for(".worried_in_check", draft_id=draft["_id"]), code=303)
    if request.method == "POST" and draft is not None:
        return _worried_in(draft)
    errors, concern = {}, ""
    share = form_reading.read_share(request.form, "share-concern")  # private unless chosen, as on every screen
    if request.method == "POST":
        send_now = request.form.get("action") == "send"
        concern, errors = form_reading.read_concern(request.form.get("concern"), required=send_now)
        if not errors and not send_now:
            question_set = context.ctx().question_sets.current(g.checker["site_id"])
            draft = store.start(g.checker, question_set, g.profile.share_name)
            store.update(
                g.checker["checker_id"], draft["_id"], {"urgent_concern": concern, "urgent_concern_share": share}
            )
            return redirect(url_for(".step", draft_id=draft["_id"], name="who"), code=303)
        if not errors:
            question_set = context.ctx().question_sets.current()
            errors = _send_alone(g.checker["checker_id"], question_set, concern, share, g.profile.answered_by)
            if not errors:
                return redirect(url_for(".worry_sent"), code=303)
    return render_page(
        "worried.html",
        400 if errors else 200,
        action=url_for(".worried"),
        back_href=url_for(".start"),
        concern=concern,
        concern_share=share,
        errors=errors,
        in_check=False,
    )


@bp.get("/worry-sent")
@bp.get("/check/<draft_id>/worry-sent")
@signed_in
def worry_sent(draft_id: str | None = None):
    """It has been sent, who is being told, and the way back to the check (kept, not sent)."""
    carry_on = None
    if draft_id is not None:
        draft = draft_or_404(draft_id)
        if draft["sent_at"] is None:
            carry_on = url_for(".step", draft_id=draft_id, name=return_to(draft, request.args.get("from")))
    return render_page("worry_sent.html", carry_on_href=carry_on)
