"""The checker's side of the form, shared by every page of it: one blueprint, the signed-in checker, CSRF.

Each page module (pages, check_screens, worried, is_it_better, recognition,
send_again, question_review) adds its routes to ``bp``; bootstrap.py imports
them all before it registers ``bp``, so the blueprint has every route.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

from flask import Blueprint, g, render_template, request
from pymongo.errors import ConnectionFailure

from qc import auth, web
from services.checks.context import ctx
from services.checks.stores.profiles import Profile, Profiles
from services.checks.web import recordings

bp = Blueprint("checks_pages", __name__)
COOKIE = "qc_checker"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
FORM_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


# --- who is signed in, and CSRF ---------------------------------------------------------------


@bp.before_request
def _load_checker():
    token = request.cookies.get(COOKIE)
    g.checker = ctx().directory.checker_for_token(auth.hash_checker_token(token)) if token else None
    g.profile = Profiles(ctx().db).get(g.checker["checker_id"]) if g.checker else Profile()
    if request.method == "POST" and request.endpoint != "checks_pages.sign_in":
        if g.checker is None:
            return not_signed_in()
        sent = request.headers.get(CSRF_HEADER) if request.is_json else request.form.get(CSRF_FIELD)
        if not sent or not hmac.compare_digest(sent, csrf_token()):
            if request.is_json:
                detail = f"The {CSRF_HEADER} header is missing or out of date."
                return web.problem(403, "Please reload the page", detail)
            return render_page("problem.html", 400, heading="Please go back and try again", csrf=True)
    return None


@bp.errorhandler(404)
def _not_found(error):
    return render_page(
        "problem.html", 404, heading="We cannot find this page", detail="The link may be old. Go to the start page."
    )


@bp.errorhandler(ConnectionFailure)
def _database_down(error):
    # Not an error page: nothing is lost (the JavaScript form keeps the check on
    # the phone and sends it later; the screens keep what was saved before).
    if request.is_json:
        return web.database_unavailable()
    page = render_page(
        "problem.html",
        503,
        heading="We cannot save right now",
        detail="Nothing you saved is lost. Please wait a minute. Then go back and press the button again.",
    )
    return (*page, {"Retry-After": str(web.RETRY_AFTER_SECONDS)})


def csrf_token() -> str:
    """A token bound to this checker's sign-in, so it never expires while the link works (no time limits)."""
    token_hash = g.checker["_id"] if g.checker else ""
    key = ctx().settings.secret_key.encode()
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
    audio = ctx().settings.audio_dir
    return {"checker": g.get("checker"), "profile": g.get("profile") or Profile(), "csrf_token": csrf_token} | {
        "recording": lambda words: recordings.url_for_words(audio, words)  # None: only speech reads them
    }


def render_page(template: str, status: int = 200, **context):
    return render_template(template, **context), status


def not_signed_in():
    if request.is_json:
        return web.problem(401, "Not signed in", "Open your own sign-in link on this phone, then try again.")
    return render_page("link_not_valid.html", 401)


def signed_in(view):
    """Let a page run only for a signed-in checker."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if g.checker is None:
            return not_signed_in()
        return view(*args, **kwargs)

    return wrapper
