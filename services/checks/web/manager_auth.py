"""Managers sign in here (checks owns their passwords); the session cookie works on every service.

The cookie holds the same signed token as the API's bearer token. Browsers
send cookies by host, not port, so one sign-in covers aggregate and notify
too (and, in production, one proxy serves them all).
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlparse

from flask import Blueprint, current_app, redirect, render_template, request

from qc import auth, manager_nav, rate_limited, web
from qc.web import MANAGER_COOKIE
from services.checks.jobs.directory_events import publish_person
from services.checks.web.passwords import check_manager_password

bp = Blueprint("manager_auth", __name__, url_prefix="/manager")
CSRF_COOKIE = "qc_signin_csrf"


def _ctx():
    return current_app.extensions["qc.checks"]


def _safe_next(target: str | None, principal: auth.Principal) -> str:
    """Only our own services may be the next page (no open redirect)."""
    settings = _ctx().settings
    # "Needs you today" is a manager's home; the involvement lead, who reads no alerts, starts at their checkers.
    home = manager_nav.home(settings, principal.role)
    if not target:
        return home
    ours = {
        urlparse(u).netloc
        for u in (settings.checks_public_url, settings.aggregate_public_url, settings.notify_public_url)
    }
    try:
        parsed = urlparse(target)
    except ValueError:  # e.g. "http://[::1": not a URL at all
        return home
    # Control characters would make the Location header invalid (a 500), or split it.
    if parsed.scheme in ("http", "https") and parsed.netloc in ours and target.isprintable():
        return target
    return home


def _form(status: int = 200, error: str | None = None, username: str = ""):
    token = secrets.token_urlsafe(24)
    response = current_app.make_response(
        (
            render_template(
                "manager_sign_in.html", csrf=token, error=error, username=username, next=request.values.get("next", "")
            ),
            status,
        )
    )
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="Strict", secure=request.is_secure, path="/manager")
    return response


@bp.get("/sign-in")
def sign_in_form():
    """The managers' sign-in page."""
    return _form()


@bp.post("/sign-in")
@rate_limited.limit(
    "signin",
    (rate_limited.by_address, "rate_limit_signin_per_minute"),
    page=lambda seconds: _form(429, f"Too many tries. Please wait {rate_limited.wait_words(seconds)}, then try again."),
)
def sign_in():
    """Check the password; on success set the session cookie and go on."""
    sent, expected = request.form.get("csrf_token", ""), request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(sent, expected):
        return _form(400, "Your session timed out. Please sign in again.")
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    ctx = _ctx()
    person = check_manager_password(ctx.directory, ctx.hasher, username, password, "page")
    if person is None:
        return _form(401, "The username or password is not right.", username)
    principal = auth.Principal(
        username=person["username"],
        role=person["role"],
        region_id=person.get("region_id"),
        site_id=person.get("site_id"),
    )
    response = redirect(_safe_next(request.form.get("next"), principal), code=303)
    web.set_session_cookie(response, ctx.settings, auth.issue_manager_token(ctx.settings.secret_key, principal))
    response.delete_cookie(CSRF_COOKIE, path="/manager")
    return response


@bp.get("/sign-out")
def sign_out():
    """Sign out everywhere: this browser's session, and every other session and token of this manager.

    The other services hear of it from the person's directory event (``tokens_valid_after``).
    """
    ctx = _ctx()
    response = redirect("/manager/sign-in", code=303)
    response.delete_cookie(MANAGER_COOKIE)
    try:
        principal = web.verify_manager_token(ctx.settings, request.cookies.get(MANAGER_COOKIE, ""), from_cookie=True)
    except auth.AuthError:
        return response  # not signed in (or already signed out): nothing more to end
    person = ctx.directory.end_sessions(principal.username)
    current_app.extensions[web.STANDING].forget(principal.username)
    if person is not None:
        publish_person(ctx.publisher, ctx.settings.secret_key, person, "signed out")
    return response
