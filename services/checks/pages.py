"""The checker's pages: sign-in by link, the start page, My checks, How I like it, and what they share.

The blueprint, the signed-in checker and the CSRF token live here; the check
screens themselves are in ``check_screens`` (registered on the same blueprint).
The core path works without JavaScript (progressive enhancement).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from urllib.parse import quote, urlencode

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from pymongo.errors import ConnectionFailure

from qc import auth, events, web
from qc.dates import long_date
from services.checks import action_news, recordings
from services.checks.handlers import can_send_again
from services.checks.profiles import Drafts, Profile, Profiles
from services.checks.question_sets import answer_words
from services.checks.question_versions import QuestionVersions

bp = Blueprint("checks_pages", __name__)
COOKIE = "qc_checker"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# Plain words for where a check is: "Counted" says what happened (a check is not "checked").
STATUS_WORDS = {"accepted": "Sent", "validated": "Counted", "rejected": "Not counted"}
ANSWERED_BY_WORDS = {
    "with_supporter": "You answered with a supporter helping.",
    "supporter_wrote": "Your supporter wrote what you said.",
}
FORM_CSP = (
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


@bp.errorhandler(ConnectionFailure)
def _database_down(error):
    # Not an error page: nothing is lost (the JavaScript form keeps the check on
    # the phone and sends it later; the screens keep what was saved before).
    if request.is_json:
        return web.database_unavailable()
    page = _page(
        "problem.html",
        503,
        heading="We cannot save right now",
        detail="Nothing you saved is lost. Please wait a minute. Then go back and press the button again.",
    )
    return (*page, {"Retry-After": str(web.RETRY_AFTER_SECONDS)})


def csrf_token() -> str:
    """A token bound to this checker's sign-in, so it never expires while the link works (no time limits)."""
    token_hash = g.checker["_id"] if g.checker else ""
    key = _ctx().settings.secret_key.encode()
    return hmac.new(key, f"qc.form-csrf.v1:{token_hash}".encode(), hashlib.sha256).hexdigest()


@bp.after_request
def _headers(response):
    response.headers.setdefault("Content-Security-Policy", FORM_CSP)
    # The sign-in link carries a secret: never pass it on to another site.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Cache-Control", "private, no-cache")
    return response


@bp.app_context_processor
def _globals():
    audio = _ctx().settings.audio_dir
    return {"checker": g.get("checker"), "profile": g.get("profile") or Profile(), "csrf_token": csrf_token} | {
        "recording": lambda words: recordings.url_for_words(audio, words)  # None: only speech reads them
    }


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


@bp.route("/s/<token>", methods=["GET", "POST"])
def sign_in(token: str):
    """Sign a checker in on this phone from their personal link.

    If the phone is signed in for someone else, it first says whose link this
    is and asks (POST to confirm): nobody signs another person's phone in as
    themselves by tapping a link on it.
    """
    ctx = _ctx()
    record = ctx.directory.checker_for_token(auth.hash_checker_token(token))
    if record is None:
        return render_template("link_not_valid.html"), 404
    current = g.checker
    if current is not None and current["checker_id"] != record["checker_id"]:
        # Another person is signed in here: only their own "Sign in as …" press switches, proven by a
        # value bound to this phone's session (another site cannot make it, so cannot post it for them).
        expected = _switch_proof(current["_id"], record["_id"])
        if request.method == "GET" or not hmac.compare_digest(request.form.get("switch", ""), expected):
            page = render_template(
                "sign_in_confirm.html",
                link_name=_name(ctx.directory.person(record["checker_id"])),
                current_name=_name(ctx.directory.person(current["checker_id"])),
                switch=expected,
            )
            return page, 200, {"Cache-Control": "no-store"}
    response = redirect("/", code=303)
    # Long-lived on purpose: checkers should not have to sign in again on
    # their own phone. A supporter or manager stops the link to end it.
    response.set_cookie(
        COOKIE,
        token,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )
    return response


def _switch_proof(current_hash: str, link_hash: str) -> str:
    key = _ctx().settings.secret_key.encode()
    return hmac.new(key, f"qc.sign-in-switch.v1:{current_hash}:{link_hash}".encode(), hashlib.sha256).hexdigest()


def _name(person: dict | None) -> str:
    """A checker's name as the directory has it (the whole name: two checkers may share a first name)."""
    return (person or {}).get("name") or "someone else"


@bp.get("/")
def start():
    """The checker's start page."""
    ctx = _ctx()
    site = ctx.directory.site(g.checker["site_id"]) if g.checker else None
    draft = Drafts(ctx.db).open_draft(g.checker["checker_id"]) if g.checker else None
    question_set = ctx.question_sets.current(site["_id"] if site else None)
    review = QuestionVersions(ctx.db).to_review(g.checker["checker_id"]) if g.checker else None
    return render_template("start.html", site=site, question_set=question_set, draft=draft, review=review)


# --- My checks, and How I like it -------------------------------------------------------------------


@bp.get("/my-checks")
@_signed_in
def my_checks():
    """Each check the checker sent, its status in plain words, and what managers did ("you said, we did")."""
    submissions = _ctx().submissions
    found = submissions.collection.find({"checker_id": g.checker["checker_id"]}, sort=[("received_at", -1)], limit=50)
    docs = submissions.settle(list(found))  # with the validator's decision, or "accepted" once the broker has it
    checks = [
        {
            "id": d["_id"],
            "visited_on": long_date(d["visited_on"]),
            "status": d.get("status", "accepted"),
            "worry_alone": d.get("kind") == events.WORRY_ALONE,
            "status_words": STATUS_WORDS.get(d.get("status"), "Sent"),
            "reasons": [r["message"] for r in d.get("reasons", [])],
            "reason_codes": [r["code"] for r in d.get("reasons", [])],
            "can_send_again": can_send_again(d),
            "sent_again": bool(d.get("sent_again_as")),
            "responses": action_news.shown(d.get("responses", []), _ctx().settings),
            "answered_by": ANSWERED_BY_WORDS.get(d.get("answered_by")),
            "answers": _answer_rows(d),
        }
        for d in docs
    ]
    return render_template(
        "my_checks.html", checks=checks, thanks=request.args.get("thanks"), csrf=csrf_token(), board_url=board_url()
    )


def board_url() -> str:
    """Notify's "You said, we did" board for the checker's own site, with a fresh signed link (it expires)."""
    settings = _ctx().settings
    site_id = g.checker["site_id"]
    token = auth.issue_board_token(settings.secret_key, site_id, f"checker:{g.checker['checker_id']}")
    return f"{settings.notify_public_url.rstrip('/')}/sites/{quote(site_id, safe='')}/board?{urlencode({'t': token})}"


def _answer_rows(doc: dict) -> list[dict]:
    """(question, answer in the words that question used) for a sent check; none if not known."""
    ref = doc.get("question_set") or {}
    question_set = _ctx().question_sets.get(ref.get("id"), ref.get("version"))
    if question_set is None or not doc.get("answers"):
        return []
    questions = {q["id"]: q for q in question_set["questions"]}
    return [
        {
            "question": questions[a["question_id"]]["text"],
            "words": answer_words(questions[a["question_id"]], question_set["scale"], a["score"]),
        }
        for a in doc["answers"]
        if a["question_id"] in questions
    ]


@bp.post("/sign-out")
@_signed_in
def sign_out():
    """Sign out on this phone; with ``stop=link`` also stop the link itself, everywhere."""
    stopped = request.form.get("stop") == "link"
    if stopped:
        token_hash = auth.hash_checker_token(request.cookies.get(COOKIE, ""))
        _ctx().directory.revoke_checker_tokens(g.checker["checker_id"], token_hash)
    response = current_app.make_response(_page("signed_out.html", stopped=stopped))
    response.delete_cookie(COOKIE)
    # The browser's own copies of this checker's pages go too (the offline copy is emptied by checks.js).
    response.headers["Clear-Site-Data"] = '"cache"'
    return response


@bp.get("/stop-my-link")
@_signed_in
def stop_my_link():
    """Are you sure? Stopping the link locks the checker out until someone gives them a new one: say who."""
    ctx = _ctx()
    return _page("stop_my_link.html", managers=ctx.directory.site_manager_names(g.checker["site_id"]))


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


# The check's screens and "is it better now?" add their routes to ``bp``: import them with it, so
# wherever ``bp`` is registered (create_app, the deploy wiring test) it has every route, and no
# later import adds routes to a blueprint that is already registered (Flask refuses that).
from services.checks import check_screens, feedback, question_review, recognition, send_again, worried  # noqa: E402, F401
