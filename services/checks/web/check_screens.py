"""The check itself, screen by screen (no JavaScript) or as one page (with it).

Without JavaScript every screen is a server-rendered form whose answers are
kept in a server-side draft. With JavaScript ``/check/app`` keeps the draft on
the phone and sends through ``/check/submit`` when there is a connection.
Both end in ``intake.accept``, the same path as the API.
"""

from __future__ import annotations

import datetime as dt

from flask import abort, g, redirect, render_template, request, url_for

from qc import jsonbody
from qc.dates import long_date
from services.checks import context
from services.checks.rules import form_reading
from services.checks.stores.profiles import next_step, previous_step, steps
from services.checks.web import api, check_summary, form_drafts, intake
from services.checks.web.checker_session import bp, render_page, signed_in

# --- the check without JavaScript: one screen at a time, the draft kept on the server ------------


@bp.post("/check/start")
@form_drafts.FORM_SAVES
def start_check():
    """Start a new check (the draft's id is the check's submission_id)."""
    # A draft being tried at this site, else the newest version.
    question_set = context.ctx().question_sets.current(g.checker["site_id"])
    draft = form_drafts.drafts().start(g.checker, question_set, g.profile.share_name)
    first = steps(form_drafts.question_set_of(draft), g.profile)[0]
    return redirect(url_for(".step", draft_id=draft["_id"], name=first), code=303)


@bp.route("/check/<draft_id>/<name>", methods=["GET", "POST"])
@signed_in
@form_drafts.FORM_SAVES
def step(draft_id: str, name: str):
    """One screen of the check: a question (or all of them), what works, what does not, check answers."""
    draft = form_drafts.draft_or_404(draft_id)
    if draft["sent_at"] is not None:
        return redirect(url_for(".sent", draft_id=draft_id), code=303)
    question_set = form_drafts.question_set_of(draft)
    all_steps = steps(question_set, g.profile)
    questions = _questions_for(question_set, name)
    if questions is None and name not in ("who", "when", "working", "not-working", "check"):
        abort(404)
    back = request.args.get("return") == "check"
    errors = {}
    values = _values(draft, name, questions)
    if request.method == "POST":
        form = request.form
        if questions is not None:
            answers, errors = form_reading.read_answers(form, questions)
            changes = {f"answers.{qid}": answer for qid, answer in answers.items()}
            values = answers
        elif name == "who":
            answered_by, errors = form_reading.read_answered_by(form)
            changes = {"answered_by": answered_by}
            values = {"answered_by": form.get("answered_by")}
        elif name == "when":
            visited_on, errors = form_reading.read_visit(form, form_drafts.today(), _visit_days())
            changes = {"visited_on": visited_on}
            values = {"visited": form.get("visited"), **form_reading.written_day(form)}
        else:
            items, errors = form_reading.read_lines(form.get("items"))
            changes = {name.replace("-", "_"): items}
            values = {"items": form.get("items", "")}
        if not errors:
            form_drafts.drafts().update(g.checker["checker_id"], draft_id, changes)
            target = "check" if back else next_step(all_steps, name)
            return redirect(url_for(".step", draft_id=draft_id, name=target), code=303)
    context = dict(
        draft=draft,
        question_set=question_set,
        step_name=name,
        back_href=_back_href(draft_id, all_steps, name, back),
        worried_href=url_for(".worried_in_check", draft_id=draft_id, **{"from": name}),
        name_href=url_for(".your_name", draft_id=draft_id, **{"from": name}),
        name_share=check_summary.name_share(draft),
        errors=errors,
        values=values,
        returning=back,
    )
    status = 400 if errors else 200
    if questions is not None:
        return render_page("question.html", status, questions=questions, **context)
    if name in ("who", "when"):
        return render_page(f"{name}.html", status, **context, **_visit_bounds())
    if name == "check":
        return render_page("check_answers.html", status, rows=_summary(draft, question_set, all_steps), **context)
    return render_page("things.html", status, **context)


def _values(draft: dict, name: str, questions: list[dict] | None) -> dict:
    """What a screen shows before the checker changes it: their draft, or the defaults."""
    if questions is not None:
        return draft["answers"]
    if name == "who":
        return {"answered_by": draft.get("answered_by") or g.profile.answered_by}
    if name == "when":
        chosen, today = draft.get("visited_on"), form_drafts.today()
        if chosen in (None, today.isoformat()):
            return {"visited": "today"}
        if chosen == (today - dt.timedelta(days=1)).isoformat():
            return {"visited": "yesterday"}
        return {"visited": "other", **form_reading.day_boxes(chosen)}
    return {"items": "\n".join(draft.get(name.replace("-", "_"), []))}


def _visit_days() -> int:
    return min(form_reading.FORM_VISIT_DAYS, context.ctx().settings.visit_window_days)


def _visit_bounds() -> dict:
    """Today (the screen says which day it is), how far back a visit may be, and a day to give as an example."""
    today = form_drafts.today()
    example = today - dt.timedelta(days=7)  # one that would be accepted, not the first or last allowed
    return {"today": today, "example": example, "visit_days": _visit_days()}


def _questions_for(question_set: dict, name: str) -> list[dict] | None:
    if name == "questions":
        return question_set["questions"]
    if name.startswith("q-"):
        found = [q for q in question_set["questions"] if q["id"] == name[2:]]
        return found or None
    return None


def _back_href(draft_id: str, all_steps: list[str], name: str, returning: bool) -> str:
    if returning:
        return url_for(".step", draft_id=draft_id, name="check")
    before = previous_step(all_steps, name)
    return url_for(".step", draft_id=draft_id, name=before) if before else url_for(".start")


def _summary(draft: dict, question_set: dict, all_steps: list[str]) -> list[dict]:
    def change(name):
        return url_for(".step", draft_id=draft["_id"], name=name, **{"return": "check"})

    def question_step(qid):
        return "questions" if "questions" in all_steps else f"q-{qid}"

    def when(iso):
        return long_date(dt.date.fromisoformat(iso) if iso else form_drafts.today())

    name_href = url_for(".your_name", draft_id=draft["_id"], **{"from": "check"})
    return check_summary.rows(draft, question_set, question_step, change, when, name_href)


@bp.post("/check/<draft_id>/send")
@signed_in
@form_drafts.FORM_SENDS
def send(draft_id: str):
    """Send the check through the same intake path as the API."""
    draft = form_drafts.draft_or_404(draft_id)
    if draft["sent_at"] is None:
        failed = _send_draft(draft)
        if failed is not None:
            return failed
    return redirect(url_for(".sent", draft_id=draft_id), code=303)


def _send_draft(draft: dict):
    """None once the check is with the broker; otherwise the page that says what to do."""
    question_set = form_drafts.question_set_of(draft)
    body = intake.submission_from_draft(draft, question_set, form_drafts.today())
    result = intake.accept(context.ctx(), g.checker, body, request.headers.get("X-Correlation-ID"))
    # A conflict means this id is already recorded with other content: it was sent before.
    if result.ok or result.outcome == intake.CONFLICT:
        form_drafts.drafts().mark_sent(g.checker["checker_id"], draft["_id"])
        if draft.get("sends_again"):  # a check that was not counted, changed and sent again (send_again.py)
            context.ctx().submissions.mark_sent_again(draft["sends_again"], g.checker["checker_id"], draft["_id"])
        return None
    all_steps = steps(question_set, g.profile)
    return render_page(
        "check_answers.html",
        503 if result.outcome == intake.UNAVAILABLE else 400,
        draft=draft,
        question_set=question_set,
        step_name="check",
        rows=_summary(draft, question_set, all_steps),
        back_href=_back_href(draft["_id"], all_steps, "check", False),
        worried_href=url_for(".worried_in_check", draft_id=draft["_id"], **{"from": "check"}),
        errors={},
        send_failed=result.outcome,
        send_errors=result.errors,
    )


@bp.route("/check/<draft_id>/your-name", methods=["GET", "POST"])
@signed_in
@form_drafts.FORM_SAVES
def your_name(draft_id: str):
    """Who can see the checker's name with this check: asked once in How I like it, changed here for one check."""
    draft = form_drafts.draft_or_404(draft_id)
    if draft["sent_at"] is not None:
        return redirect(url_for(".sent", draft_id=draft_id), code=303)
    came_from = form_drafts.return_to(draft, request.values.get("from"), "check")
    back = url_for(".step", draft_id=draft_id, name=came_from)
    if request.method == "POST":
        form_drafts.drafts().update(
            g.checker["checker_id"], draft_id, {"name_share": form_reading.read_share(request.form, "share")}
        )
        return redirect(back, code=303)
    action = url_for(".your_name", draft_id=draft_id, **{"from": came_from})
    return render_page("your_name.html", action=action, back_href=back, name_share=check_summary.name_share(draft))


@bp.get("/check/<draft_id>/sent")
@signed_in
def sent(draft_id: str):
    """The confirmation: it has been sent, and what happens next."""
    draft = form_drafts.draft_or_404(draft_id)
    if draft["sent_at"] is None:
        return redirect(url_for(".step", draft_id=draft_id, name="check"), code=303)
    return render_template("sent.html", draft=draft, submission_id=draft["_id"])


# --- the check with JavaScript: one page, the draft on the phone, sent when there is a connection --


@bp.get("/check/app")
@signed_in
def app_page():
    """The whole check in one page; JavaScript shows one screen at a time and works offline."""
    ctx = context.ctx()
    question_set = ctx.question_sets.current(g.checker["site_id"])
    return render_template(
        "check_app.html",
        question_set=question_set,
        site=ctx.directory.site(g.checker["site_id"]),
        all_steps=steps(question_set, g.profile),
        worried_href="#worried",
        values={},
        **_visit_bounds(),
    )


@bp.after_app_request
def _service_worker_scope(response):
    """Let /static/sw.js look after the pages under /check/ (offline reload of /check/app)."""
    if request.path == "/static/sw.js":
        response.headers["Service-Worker-Allowed"] = "/check/"
        response.headers["Cache-Control"] = "no-cache"  # a phone picks up a new version on its next visit
    return response


@bp.post("/check/submit")
@signed_in
@form_drafts.FORM_SENDS
def submit_json():
    """The JavaScript form's send: the intake body as JSON, the checker's cookie and a CSRF header."""
    body, error = jsonbody.request_object()
    if error:
        return error
    return api.intake_response(intake.accept(context.ctx(), g.checker, body, request.headers.get("X-Correlation-ID")))
