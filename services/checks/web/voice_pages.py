"""Everyone supported is heard: the monthly key questions through a site's own link, not only its checker's.

``/v/<token>`` is the link printed as a QR code on the site's board (voice_links.py). Anyone supported
there answers the key questions of deploy/team-feedback.yaml on one easy-read page, with or without a
supporter, without a name and without signing in. The answers go through the intake like any check, as
``kind: voice`` (checker id ``voice:<site_id>``): the validator checks them against the question set, staff
team feedback counts each as one more person (the minimum group size still protects), and nothing else
counts them. A worry written here reaches the safeguarding lead like any other; no other alert comes from a
voice, and the link is limited per site (``QC_RATE_LIMIT_VOICES_PER_SITE_PER_MINUTE``), so a board cannot
flood the managers. No CSRF token: the page carries no one's authority, only the link's.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from qc import events, rate_limited, sharing
from qc.key_questions import load_questions
from services.checks.web import intake
from services.checks.web.checker_session import FORM_CSP

bp = Blueprint("voices", __name__)
WORRY_LIMIT = 2000


def _ctx():
    return current_app.extensions["qc.checks"]


@bp.after_request
def _headers(response):
    # The link is the key to the page: never passed on to another site, never kept in a shared cache.
    response.headers.setdefault("Content-Security-Policy", FORM_CSP)  # the checkers' form's own
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


def key_questions() -> list[dict]:
    """The key questions as the current question set asks them (with its pictures and answer words)."""
    question_set = _ctx().question_sets.current()
    by_id = {q["id"]: q for q in question_set["questions"]}
    return [by_id[k.id] for k in load_questions() if k.id in by_id]


def _site(token: str) -> dict | None:
    site_id = _ctx().voice_links.site_of(token)
    site = _ctx().directory.site(site_id) if site_id else None
    return site if site and site.get("active", True) else None


@bp.get("/v/<token>")
def form(token: str):
    """The key questions, on one page."""
    site = _site(token)
    if site is None:
        return _gone()
    return _page(site, {}, {})


@bp.post("/v/<token>")
def send(token: str):
    """Send the answers (anonymously), or say plainly what is missing."""
    site = _site(token)
    if site is None:
        return _gone()
    settings = _ctx().settings
    limit = settings.rate_limit_voices_per_site_per_minute
    body, values, errors = read(request.form, site["_id"], _ctx().question_sets.current())
    if errors:
        return _page(site, values, errors, 400)
    limiter = current_app.extensions[rate_limited.EXTENSION]  # only answers that would be sent are counted
    if limit and not limiter.hit("voice-site", site["_id"], limit).allowed:
        return render_template("voice_busy.html", site=site), 429, {"Retry-After": "60"}
    someone = {"checker_id": f"{events.VOICE}:{site['_id']}", "site_id": site["_id"]}  # nobody's name or id
    result = intake.accept(_ctx(), someone, body, voice=True)
    if not result.ok:
        errors = {"send": "We could not send your answers just now. Please wait a minute, then press Send again."}
        return _page(site, values, errors, 503)
    _ctx().voice_links.used(token)
    return redirect(url_for(".thanks", token=token, worry="1" if body["urgent_concern"] else None), 303)


@bp.get("/v/<token>/thanks")
def thanks(token: str):
    site = _site(token)
    if site is None:
        return _gone()
    return render_template("voice_thanks.html", site=site, worry=request.args.get("worry") == "1", token=token)


def read(form, site_id: str, question_set: dict) -> tuple[dict, dict, dict[str, str]]:
    """(the submission's body, what was chosen, an error per field in plain words) from the page's form."""
    values: dict = {}
    answers = []
    for question in key_questions():
        chosen = form.get(f"score-{question['id']}", "")
        score = int(chosen) if chosen in ("1", "2", "3") else None
        values[question["id"]] = {"score": score} if chosen else {}
        answers.append({"question_id": question["id"], "score": score, "comment": ""})
    answered_by = form.get("answered_by") if form.get("answered_by") in sharing.ANSWERED_BY else "alone"
    worry = (form.get("worry") or "").strip()
    values.update(answered_by=answered_by, worry=worry)
    errors = {}
    if len(worry) > WORRY_LIMIT:
        errors["worry"] = f"Please use {WORRY_LIMIT} letters or fewer. You can tell a member of staff the rest."
    if not worry and all(a["score"] is None for a in answers):
        errors[f"score-{answers[0]['question_id']}"] = "Please choose an answer to at least one question."
    body = {
        "submission_id": str(uuid.uuid4()),
        "site_id": site_id,
        "question_set": {"id": question_set["id"], "version": question_set["version"]},
        "visited_on": intake.today(_ctx().settings.timezone).isoformat(),
        "answers": answers,
        "urgent_concern": worry or None,
        "answered_by": answered_by,
        "texts_share": sharing.ANONYMOUS,
        "urgent_concern_share": sharing.ANONYMOUS,
    }
    return body, values, errors


def _page(site: dict, values: dict, errors: dict, status: int = 200):
    question_set = _ctx().question_sets.current()
    return render_template(
        "voice.html", site=site, questions=key_questions(), scale=question_set["scale"], values=values, errors=errors
    ), status


def _gone():
    return render_template("voice_gone.html"), 404
