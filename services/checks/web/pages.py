"""The checker's pages: sign-in by link, the start page, My checks, How I like it, and what they share.

The blueprint, the signed-in checker and the CSRF token are in ``checker_session``;
the check screens themselves are in ``check_screens`` (on the same blueprint).
The core path works without JavaScript (progressive enhancement).
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote, urlencode

from flask import current_app, g, redirect, render_template, request, url_for

from qc import auth, events
from qc.dates import long_date
from services.checks import context
from services.checks.rules import action_news
from services.checks.rules.validation import can_send_again
from services.checks.stores.profiles import Drafts, Profile, Profiles
from services.checks.stores.question_sets import answer_words
from services.checks.stores.question_versions import QuestionVersions
from services.checks.web.checker_session import COOKIE, bp, csrf_token, render_page, signed_in

# Plain words for where a check is: "Counted" says what happened (a check is not "checked").
STATUS_WORDS = {"accepted": "Sent", "validated": "Counted", "rejected": "Not counted"}
ANSWERED_BY_WORDS = {
    "with_supporter": "You answered with a supporter helping.",
    "supporter_wrote": "Your supporter wrote what you said.",
}

# --- sign-in and the start page -----------------------------------------------------------------


@bp.route("/s/<token>", methods=["GET", "POST"])
def sign_in(token: str):
    """Sign a checker in on this phone from their personal link.

    If the phone is signed in for someone else, it first says whose link this
    is and asks (POST to confirm): nobody signs another person's phone in as
    themselves by tapping a link on it.
    """
    ctx = context.ctx()
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
    key = context.ctx().settings.secret_key.encode()
    return hmac.new(key, f"qc.sign-in-switch.v1:{current_hash}:{link_hash}".encode(), hashlib.sha256).hexdigest()


def _name(person: dict | None) -> str:
    """A checker's name as the directory has it (the whole name: two checkers may share a first name)."""
    return (person or {}).get("name") or "someone else"


@bp.get("/")
def start():
    """The checker's start page."""
    ctx = context.ctx()
    site = ctx.directory.site(g.checker["site_id"]) if g.checker else None
    draft = Drafts(ctx.db).open_draft(g.checker["checker_id"]) if g.checker else None
    question_set = ctx.question_sets.current(site["_id"] if site else None)
    review = QuestionVersions(ctx.db).to_review(g.checker["checker_id"]) if g.checker else None
    return render_template("start.html", site=site, question_set=question_set, draft=draft, review=review)


# --- My checks, and How I like it -------------------------------------------------------------------


@bp.get("/my-checks")
@signed_in
def my_checks():
    """Each check the checker sent, its status in plain words, and what managers did ("you said, we did")."""
    submissions = context.ctx().submissions
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
            "responses": action_news.shown(d.get("responses", []), context.ctx().settings),
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
    settings = context.ctx().settings
    site_id = g.checker["site_id"]
    token = auth.issue_board_token(settings.secret_key, site_id, f"checker:{g.checker['checker_id']}")
    return f"{settings.notify_public_url.rstrip('/')}/sites/{quote(site_id, safe='')}/board?{urlencode({'t': token})}"


def _answer_rows(doc: dict) -> list[dict]:
    """(question, answer in the words that question used) for a sent check; none if not known."""
    ref = doc.get("question_set") or {}
    question_set = context.ctx().question_sets.get(ref.get("id"), ref.get("version"))
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
@signed_in
def sign_out():
    """Sign out on this phone; with ``stop=link`` also stop the link itself, everywhere."""
    stopped = request.form.get("stop") == "link"
    if stopped:
        token_hash = auth.hash_checker_token(request.cookies.get(COOKIE, ""))
        context.ctx().directory.revoke_checker_tokens(g.checker["checker_id"], token_hash)
    response = current_app.make_response(render_page("signed_out.html", stopped=stopped))
    response.delete_cookie(COOKIE)
    # The browser's own copies of this checker's pages go too (the offline copy is emptied by checks.js).
    response.headers["Clear-Site-Data"] = '"cache"'
    return response


@bp.get("/stop-my-link")
@signed_in
def stop_my_link():
    """Are you sure? Stopping the link locks the checker out until someone gives them a new one: say who."""
    ctx = context.ctx()
    return render_page("stop_my_link.html", managers=ctx.directory.site_manager_names(g.checker["site_id"]))


@bp.route("/how-i-like-it", methods=["GET", "POST"])
@signed_in
def how_i_like_it():
    """The checker's presentation profile, changed by them or their supporter."""
    errors = {}
    profile = g.profile
    if request.method == "POST":
        profile, errors = Profile.from_form(request.form)
        if not errors:
            Profiles(context.ctx().db).save(g.checker["checker_id"], profile)
            return redirect(url_for(".how_i_like_it", saved="1"), code=303)
    return render_page(
        "how_i_like_it.html", 400 if errors else 200, form=profile, errors=errors, saved=bool(request.args.get("saved"))
    )
