"""Is it better now? The checker's answer after an alert from their check was resolved, or an action about
what they said was done.

Published on ``qc.feedback`` (acks=all) before it is shown as given, so a
"no" is never lost: notify reopens the alert (or puts the action back before
its managers), aggregate counts the answer.
"""

from __future__ import annotations

from flask import g, redirect, request, url_for

from qc import events
from qc.kafka import PublishError
from qc.settings import TOPICS
from services.checks import context
from services.checks.web.checker_session import bp, render_page, signed_in

ANSWERS = {"better": "Yes, it is better", "a_bit": "It is a bit better", "no": "No, it is not better"}


@bp.post("/my-checks/<submission_id>/alerts/<alert_id>/better")
@signed_in
def is_it_better(submission_id: str, alert_id: str):
    """Record yes / a bit / no for one resolved alert on one of the checker's checks."""
    return _answer(submission_id, "alert_id", alert_id, "resolved")


@bp.post("/my-checks/<submission_id>/actions/<action_id>/better")
@signed_in
def is_it_better_after_action(submission_id: str, action_id: str):
    """Record yes / a bit / no for one action done about what the checker said."""
    return _answer(submission_id, "action_id", action_id, "done")


def _answer(submission_id: str, key: str, about_id: str, finished: str):
    """``key``: what the answer is about ("alert_id" or "action_id"); asked only once that is ``finished``."""
    ctx = context.ctx()
    doc = ctx.submissions.get(submission_id)
    answer = request.form.get("answer")
    response = next((r for r in (doc or {}).get("responses", []) if r.get(key) == about_id), None)
    mine = doc is not None and doc["checker_id"] == g.checker["checker_id"] and doc.get("region_id")
    if not mine or response is None or answer not in ANSWERS:
        return render_page("problem.html", 404, heading="We could not find that")
    if response.get("status") != finished:
        return redirect(url_for("checks_pages.my_checks") + f"#check-{submission_id}", code=303)
    at = events.isoformat(events.now())
    data = {
        key: about_id,
        "submission_id": submission_id,
        "checker_id": doc["checker_id"],
        "site_id": doc["site_id"],
        "region_id": doc["region_id"],
        "answer": answer,
        "at": at,
    }
    event = events.make_event(
        "org.qc.fix.feedback",
        source="qc/checks/my-checks",
        subject=about_id,
        data=data,
        event_id=f"{about_id}:{doc['checker_id']}:{at}",
    )
    try:
        ctx.publisher.publish_sync(TOPICS["feedback"], doc["site_id"], event)
    except PublishError:
        return render_page("problem.html", 503, heading="Please try again in a minute")
    ctx.submissions.record_feedback(submission_id, key, about_id, answer, at)
    return redirect(url_for("checks_pages.my_checks", thanks=about_id) + f"#check-{submission_id}", code=303)
