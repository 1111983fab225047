"""The checker's pages: sign-in by link, the check one screen at a time, My checks, How I like it.

The core path works without JavaScript: every screen is a server-rendered
form whose answers are kept in a server-side draft. With JavaScript the
whole check is one page (``/check/app``) that keeps its draft on the phone
and sends through ``/check/submit`` when there is a connection. Both end in
``intake.accept``, the same path as the API.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for

from qc import auth, web
from services.checks import api, intake
from services.checks.profiles import Drafts, Profile, Profiles, next_step, previous_step, steps

bp = Blueprint("checks_pages", __name__)
COOKIE = "qc_checker"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
STATUS_WORDS = {"accepted": "Sent", "validated": "Checked", "rejected": "Needs fixing"}
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def _ctx():
    return current_app.extensions["qc.checks"]


# --- who is signed in, and CSRF ---------------------------------------------------------------


@bp.before_request
def _load_checker():
    token = request.cookies.get(COOKIE)
    g.checker = _ctx().directory.checker_for_token(auth.hash_checker_token(token)) if token else None
    g.profile = Profiles(_ctx().db).get(g.checker["checker_id"]) if g.checker else Profile()
    if request.method == "POST" and request.endpoint != "checks_pages.sign_in":
        if g.checker is None:
            return _not_signed_in()
        sent = request.headers.get(CSRF_HEADER) if request.is_json else request.form.get(CSRF_FIELD)
        if not sent or not hmac.compare_digest(sent, csrf_token()):
            if request.is_json:
                detail = f"The {CSRF_HEADER} header is missing or out of date."
                return web.problem(403, "Please reload the page", detail)
            return _page("problem.html", 400, heading="Please go back and try again", csrf=True)
    return None


@bp.errorhandler(404)
def _not_found(error):
    return _page(
        "problem.html", 404, heading="We cannot find this page", detail="The link may be old. Go to the start page."
    )


def csrf_token() -> str:
    """A token bound to this checker's sign-in, so it never expires while the link works (no time limits)."""
    token_hash = g.checker["_id"] if g.checker else ""
    key = _ctx().settings.secret_key.encode()
    return hmac.new(key, f"qc.form-csrf.v1:{token_hash}".encode(), hashlib.sha256).hexdigest()


@bp.after_request
def _headers(response):
    response.headers.setdefault("Content-Security-Policy", _CSP)
    # The sign-in link carries a secret: never pass it on to another site.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Cache-Control", "private, no-cache")
    return response


@bp.app_context_processor
def _globals():
    return {"checker": g.get("checker"), "profile": g.get("profile") or Profile(), "csrf_token": csrf_token}


def _page(template: str, status: int = 200, **context):
    return render_template(template, **context), status


def _not_signed_in():
    if request.is_json:
        return web.problem(401, "Not signed in", "Open your own sign-in link on this phone, then try again.")
    return _page("link_not_valid.html", 401)


def _signed_in(view):
    """Let a page run only for a signed-in checker."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if g.checker is None:
            return _not_signed_in()
        return view(*args, **kwargs)

    return wrapper


# --- sign-in and the start page -----------------------------------------------------------------


@bp.get("/s/<token>")
def sign_in(token: str):
    """Sign a checker in on this phone from their personal link."""
    record = _ctx().directory.checker_for_token(auth.hash_checker_token(token))
    if record is None:
        return render_template("link_not_valid.html"), 404
    response = redirect("/", code=303)
    # Long-lived on purpose: checkers should not have to sign in again on
    # their own phone. A supporter revokes the link to end it.
    response.set_cookie(
        COOKIE,
        token,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )
    return response


@bp.get("/")
def start():
    """The checker's start page."""
    ctx = _ctx()
    site = ctx.directory.site(g.checker["site_id"]) if g.checker else None
    draft = Drafts(ctx.db).open_draft(g.checker["checker_id"]) if g.checker else None
    return render_template("start.html", site=site, question_set=ctx.question_sets.current(), draft=draft)


# --- the check without JavaScript: one screen at a time, the draft kept on the server ------------


def _drafts() -> Drafts:
    drafts = Drafts(_ctx().db)
    if not current_app.extensions.get("qc.drafts_indexed"):
        drafts.ensure_indexes()
        current_app.extensions["qc.drafts_indexed"] = True
    return drafts


def _question_set(draft: dict) -> dict:
    ref = draft["question_set"]
    return _ctx().question_sets.get(ref["id"], ref["version"]) or _ctx().question_sets.current()


def _draft_or_404(draft_id: str) -> dict:
    draft = _drafts().get(g.checker["checker_id"], draft_id)
    if draft is None:
        abort(404)
    return draft


def _today() -> dt.date:
    return dt.datetime.now(ZoneInfo(_ctx().settings.timezone)).date()


@bp.post("/check/start")
def start_check():
    """Start a new check (the draft's id is the check's submission_id)."""
    draft = _drafts().start(g.checker, _ctx().question_sets.current())
    first = steps(_question_set(draft), g.profile)[0]
    return redirect(url_for(".step", draft_id=draft["_id"], name=first), code=303)


@bp.route("/check/<draft_id>/<name>", methods=["GET", "POST"])
@_signed_in
def step(draft_id: str, name: str):
    """One screen of the check: a question (or all of them), what works, what does not, check answers."""
    draft = _draft_or_404(draft_id)
    if draft["sent_at"] is not None:
        return redirect(url_for(".sent", draft_id=draft_id), code=303)
    question_set = _question_set(draft)
    all_steps = steps(question_set, g.profile)
    questions = _questions_for(question_set, name)
    if questions is None and name not in ("working", "not-working", "check"):
        abort(404)
    back = request.args.get("return") == "check"
    errors = {}
    values = draft["answers"] if questions is not None else {"items": "\n".join(draft.get(name.replace("-", "_"), []))}
    if request.method == "POST":
        if questions is not None:
            answers, errors = intake.read_answers(request.form, questions)
            changes = {f"answers.{qid}": answer for qid, answer in answers.items()}
            values = answers
        else:
            items, errors = intake.read_lines(request.form.get("items"))
            changes = {name.replace("-", "_"): items}
            values = {"items": request.form.get("items", "")}
        if not errors:
            _drafts().update(g.checker["checker_id"], draft_id, changes)
            target = "check" if back else next_step(all_steps, name)
            return redirect(url_for(".step", draft_id=draft_id, name=target), code=303)
    context = dict(
        draft=draft,
        question_set=question_set,
        step_name=name,
        back_href=_back_href(draft_id, all_steps, name, back),
        worried_href=url_for(".worried_in_check", draft_id=draft_id, **{"from": name}),
        errors=errors,
        values=values,
        returning=back,
    )
    status = 400 if errors else 200
    if questions is not None:
        return _page("question.html", status, questions=questions, **context)
    if name == "check":
        return _page("check_answers.html", status, rows=_summary(draft, question_set, all_steps), **context)
    return _page("things.html", status, **context)


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
    """The check-your-answers rows, each with where to change it."""
    labels = {s["score"]: s["label"] for s in question_set["scale"]}
    rows = []
    for question in question_set["questions"]:
        answer = draft["answers"].get(question["id"])
        name = "questions" if "questions" in all_steps else f"q-{question['id']}"
        rows.append(
            {
                "key": question["text"],
                "value": labels[answer["score"]] if answer else "Not answered",
                "comment": (answer or {}).get("comment", ""),
                "href": url_for(".step", draft_id=draft["_id"], name=name, **{"return": "check"}),
                "id": question["id"],
            }
        )
    for name, key in (("working", "What is working"), ("not-working", "What is not working")):
        items = draft[name.replace("-", "_")]
        href = url_for(".step", draft_id=draft["_id"], name=name, **{"return": "check"})
        value = "" if items else "Nothing written"
        rows.append({"key": key, "things": items, "value": value, "href": href, "id": name})
    return rows


@bp.post("/check/<draft_id>/send")
@_signed_in
def send(draft_id: str):
    """Send the check through the same intake path as the API."""
    draft = _draft_or_404(draft_id)
    if draft["sent_at"] is None:
        failed = _send_draft(draft)
        if failed is not None:
            return failed
    return redirect(url_for(".sent", draft_id=draft_id), code=303)


def _send_draft(draft: dict):
    """None once the check is with the broker; otherwise the page that says what to do."""
    question_set = _question_set(draft)
    body = intake.submission_from_draft(draft, question_set, _today())
    result = intake.accept(_ctx(), g.checker, body, request.headers.get("X-Correlation-ID"))
    # A conflict means this id is already recorded with other content: it was sent before.
    if result.ok or result.outcome == intake.CONFLICT:
        _drafts().mark_sent(g.checker["checker_id"], draft["_id"])
        return None
    all_steps = steps(question_set, g.profile)
    return _page(
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


@bp.get("/check/<draft_id>/sent")
@_signed_in
def sent(draft_id: str):
    """The confirmation: it has been sent, and what happens next."""
    draft = _draft_or_404(draft_id)
    if draft["sent_at"] is None:
        return redirect(url_for(".step", draft_id=draft_id, name="check"), code=303)
    return render_template("sent.html", draft=draft, submission_id=draft["_id"])


# --- "I am worried about something": one tap away on every screen ---------------------------------


@bp.route("/check/<draft_id>/worried", methods=["GET", "POST"])
@_signed_in
def worried_in_check(draft_id: str):
    """Say who will be told and when; keep the worry in the check or send it now."""
    draft = _draft_or_404(draft_id)
    if draft["sent_at"] is not None:
        return redirect(url_for(".worried"), code=303)
    came_from = request.values.get("from") or ""
    question_set = _question_set(draft)
    if came_from not in (*steps(question_set, g.profile), "questions") and not came_from.startswith("q-"):
        came_from = steps(question_set, g.profile)[0]
    errors = {}
    concern = draft["urgent_concern"]
    if request.method == "POST":
        send_now = request.form.get("action") == "send"
        concern, errors = intake.read_concern(request.form.get("concern"), required=send_now)
        if not errors:
            draft = _drafts().update(g.checker["checker_id"], draft_id, {"urgent_concern": concern}) or draft
            if not send_now:
                return redirect(url_for(".step", draft_id=draft_id, name=came_from), code=303)
            failed = _send_draft(draft)
            return failed or redirect(url_for(".sent", draft_id=draft_id), code=303)
    return _page(
        "worried.html",
        400 if errors else 200,
        action=url_for(".worried_in_check", draft_id=draft_id),
        back_href=url_for(".step", draft_id=draft_id, name=came_from),
        came_from=came_from,
        concern=concern,
        errors=errors,
    )


@bp.route("/worried", methods=["GET", "POST"])
@_signed_in
def worried():
    """The worried page from outside a check: it goes into the open check, or a new one."""
    drafts = _drafts()
    draft = drafts.open_draft(g.checker["checker_id"])
    if request.method == "GET" and draft is not None:
        return redirect(url_for(".worried_in_check", draft_id=draft["_id"]), code=303)
    if request.method == "POST":
        draft = draft or drafts.start(g.checker, _ctx().question_sets.current())
        return worried_in_check(draft["_id"])
    return _page("worried.html", action=url_for(".worried"), back_href=url_for(".start"), concern="", errors={})


# --- the check with JavaScript: one page, the draft on the phone, sent when there is a connection --


@bp.get("/check/app")
@_signed_in
def app_page():
    """The whole check in one page; JavaScript shows one screen at a time and works offline."""
    ctx = _ctx()
    question_set = ctx.question_sets.current()
    return render_template(
        "check_app.html",
        question_set=question_set,
        site=ctx.directory.site(g.checker["site_id"]),
        all_steps=steps(question_set, g.profile),
        worried_href="#worried",
    )


@bp.post("/check/submit")
@_signed_in
def submit_json():
    """The JavaScript form's send: the intake body as JSON, the checker's cookie and a CSRF header."""
    body, error = api._json_body()
    if error:
        return error
    return api.intake_response(intake.accept(_ctx(), g.checker, body, request.headers.get("X-Correlation-ID")))


# --- My checks, and How I like it -------------------------------------------------------------------


@bp.get("/my-checks")
@_signed_in
def my_checks():
    """Each check the checker sent, its status in plain words, and what managers did ("you said, we did")."""
    docs = _ctx().submissions.collection.find(
        {"checker_id": g.checker["checker_id"]}, sort=[("received_at", -1)], limit=50
    )
    checks = [
        {
            "id": d["_id"],
            "visited_on": _long_date(d["visited_on"]),
            "status": d.get("status", "accepted"),
            "status_words": STATUS_WORDS.get(d.get("status"), "Sent"),
            "reasons": [r["message"] for r in d.get("reasons", [])],
            "responses": d.get("responses", []),
        }
        for d in docs
    ]
    return render_template("my_checks.html", checks=checks)


def _long_date(iso: str) -> str:
    day = dt.date.fromisoformat(iso)
    return f"{day.day} {day:%B %Y}"


@bp.route("/how-i-like-it", methods=["GET", "POST"])
@_signed_in
def how_i_like_it():
    """The checker's presentation profile, changed by them or their supporter."""
    errors = {}
    profile = g.profile
    if request.method == "POST":
        profile, errors = Profile.from_form(request.form)
        if not errors:
            Profiles(_ctx().db).save(g.checker["checker_id"], profile)
            return redirect(url_for(".how_i_like_it", saved="1"), code=303)
    return _page(
        "how_i_like_it.html", 400 if errors else 200, form=profile, errors=errors, saved=bool(request.args.get("saved"))
    )
