"""The checker's pages: sign-in by personal link, and the start page."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request

from qc import auth

bp = Blueprint("checks_pages", __name__)
COOKIE = "qc_checker"


def _ctx():
    return current_app.extensions["qc.checks"]


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
    token = request.cookies.get(COOKIE)
    record = ctx.directory.checker_for_token(auth.hash_checker_token(token)) if token else None
    site = ctx.directory.site(record["site_id"]) if record else None
    return render_template("start.html", site=site, question_set=ctx.question_sets.current())
