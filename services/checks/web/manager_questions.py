"""The questions, made with people, on pages for the involvement lead (and the organisation administrator).

``/manager/questions``: every version and who shaped it, and the next version's steps: write a draft (a
copy of the current questions), ask named checkers to review it on their phones (question_review.py),
try it at chosen services, publish it. The rules are in question_drafting.py, the record in
question_versions.py; each step is kept in the draft's history with who took it.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from qc import key_questions, web
from qc.dates import long_date
from qc.mongo import find_in
from services.checks.rules import question_drafting as drafting
from services.checks.stores.question_sets import QuestionSets
from services.checks.stores.question_versions import CLEAR, DRAFT, PILOT, QuestionVersions, VersionError

bp = Blueprint("manager_questions", __name__, url_prefix="/manager/questions")
MAY_WRITE = ("involvement_lead", "org_admin")


def _ctx():
    return current_app.extensions["qc.checks"]


def _versions() -> QuestionVersions:
    return QuestionVersions(_ctx().db)


def _render(template: str, status: int = 200, **context):
    return render_template(template, csrf=web.request_csrf_token(), clear_words=CLEAR, **context), status


def _refused():
    return _render("problem.html", 403, heading="The involvement lead looks after the questions")


@bp.get("")
@web.require_manager_page
def overview():
    """Every version (newest first) with who shaped it, and where the next one is."""
    if g.principal.role not in MAY_WRITE:
        return _refused()
    sets = _ctx().question_sets
    draft = _versions().draft()
    return _render(
        "manager_questions.html",
        published=sets.published(QuestionSets.CURRENT_ID),
        current=sets.current(),
        draft=draft,
        summary=drafting.review_summary(draft) if draft else [],
        names=_names(draft),
        history=[{**h, "day": long_date(h["at"])} for h in (draft or {}).get("history", [])],
        done=request.args.get("done"),
    )


def _names(draft: dict | None) -> dict:
    """Who was asked to review, and where it is tried, by name: the lead chose them. Not who has answered:
    with two or three answers, that would say whose the comments are."""
    if not draft:
        return {"reviewers": [], "sites": []}
    directory = _ctx().directory
    people = find_in(directory.people, "_id", draft["reviewers"], projection={"name": 1})
    reviewers = sorted(p.get("name") or p["_id"] for p in people)
    sites = sorted(s.get("name") or s["_id"] for s in find_in(directory.sites, "_id", draft["pilot_site_ids"]))
    return {"reviewers": reviewers, "sites": sites}


@bp.post("/new")
@web.require_manager_form
def start():
    """A new draft, copied from the questions everyone answers now."""
    if g.principal.role not in MAY_WRITE:
        return _refused()
    sets = _ctx().question_sets
    current = sets.current()
    try:
        _versions().start(current, drafting.next_version(sets.versions_of(current["id"])), g.principal.username)
    except VersionError as error:
        return _render("problem.html", 409, heading=str(error))
    return redirect(url_for(".edit"), code=303)


@bp.get("/draft")
@web.require_manager_page
def edit():
    """The draft's questions to change: words, help, remove one, add one, and who wrote them."""
    return _edit()


@bp.post("/draft")
@web.require_manager_form
def save():
    """Keep the changes; nothing is kept if any is wrong (the page says which)."""
    return _edit()


def _edit():
    if g.principal.role not in MAY_WRITE:
        return _refused()
    draft = _versions().draft()
    if draft is None or draft["status"] != DRAFT:
        return redirect(url_for(".overview"), code=303)
    errors, questions, written_with = {}, draft["questions"], draft.get("written_with", "")
    key_ids = {k.id for k in key_questions.load_questions()}
    if request.method == "POST":
        every = [*_ctx().question_sets.all(), *_versions().all()]  # drafts given up too: an id is never reused
        known = {q["id"] for version in every for q in version["questions"]}
        questions, written_with, errors = drafting.read_changes(request.form, questions, key_ids, known)
        if not errors:
            try:
                _versions().save(draft, questions, written_with, g.principal.username)
            except VersionError as error:
                return _render("problem.html", 409, heading=str(error))
            return redirect(url_for(".overview", done="saved"), code=303)
    return _render(
        "manager_question_draft.html",
        400 if errors else 200,
        draft=draft,
        questions=draft["questions"] if errors else questions,
        written_with=written_with,
        form=request.form if errors else {},
        symbols=drafting.QUESTION_SYMBOLS,
        key_ids=key_ids,
        errors=errors,
    )


@bp.get("/draft/reviewers")
@web.require_manager_page
def reviewers():
    """Choose checkers (a region at a time) to review the draft on their phones."""
    return _choose("reviewers")


@bp.post("/draft/reviewers")
@web.require_manager_form
def ask_reviewers():
    """Ask the checkers ticked (added to those asked before)."""
    return _choose("reviewers")


@bp.get("/draft/pilot")
@web.require_manager_page
def pilot():
    """Choose services to try the draft at: their checkers' form uses it from then on."""
    return _choose("pilot")


@bp.post("/draft/pilot")
@web.require_manager_form
def start_pilot():
    """Try the draft at the services ticked; its questions cannot change after this."""
    return _choose("pilot")


def _choose(what: str):
    if g.principal.role not in MAY_WRITE:
        return _refused()
    draft = _versions().draft()
    if draft is None or draft["status"] != DRAFT:
        return redirect(url_for(".overview"), code=303)
    if request.method == "POST":
        # Only active checkers and services: an id from an old page or typed by hand is not taken.
        chosen = (_checkers_of if what == "reviewers" else _sites_of)(request.form.getlist("chosen"))
        if not chosen:
            return _choices(what, draft, {"chosen": "Choose one at least."})
        try:
            if what == "reviewers":
                _versions().ask(draft, chosen, g.principal.username)
            else:
                _told(_versions().pilot(draft, chosen, g.principal.username))
        except VersionError as error:
            return _render("problem.html", 409, heading=str(error))
        return redirect(url_for(".overview", done=what), code=303)
    return _choices(what, draft, {})


def _choices(what: str, draft: dict, errors: dict):
    """A region to choose first, then its checkers or services as boxes to tick."""
    directory = _ctx().directory
    region_id = request.values.get("region_id")
    region = directory.regions.find_one({"_id": region_id}) if region_id else None
    options = []
    if region is not None:
        sites = {
            s["_id"]: s.get("name") or s["_id"] for s in directory.sites.find({"region_id": region_id, "active": True})
        }
        if what == "pilot":
            options = [{"id": i, "words": n} for i, n in sites.items()]
        else:
            people = find_in(
                directory.people, "site_id", sites, {"role": "checker", "active": True}, {"name": 1, "site_id": 1}
            )
            asked = set(draft["reviewers"])
            options = [
                {
                    "id": p["_id"],
                    "words": f"{p.get('name') or p['_id']}, {sites[p['site_id']]}",
                    "asked": p["_id"] in asked,
                }
                for p in people
            ]
        options.sort(key=lambda o: o["words"])
    regions = [] if region else list(directory.regions.find({}, {"name": 1}, sort=[("_id", 1)]))
    return _render(
        "manager_question_choose.html",
        400 if errors else 200,
        what=what,
        region=region,
        regions=regions,
        options=options,
        errors=errors,
    )


def _told(version: dict) -> None:
    """This process uses the step at once (the others within seconds); aggregate and notify learn the words.

    A broker that is down does not undo the step: the checks worker's job tells it later."""
    _ctx().question_sets.refresh()
    _ctx().question_teller(version)


def _checkers_of(chosen: list[str]) -> list[str]:
    found = find_in(_ctx().directory.people, "_id", chosen[:500], {"role": "checker", "active": True}, {"_id": 1})
    return [p["_id"] for p in found]


def _sites_of(chosen: list[str]) -> list[str]:
    found = find_in(_ctx().directory.sites, "_id", chosen[:200], {"active": True}, {"_id": 1})
    return [s["_id"] for s in found]


def _credits(draft: dict) -> dict:
    sites = find_in(_ctx().directory.sites, "_id", draft["pilot_site_ids"], projection={"name": 1})
    return drafting.credits(draft, sorted(s.get("name") or s["_id"] for s in sites))


@bp.get("/draft/publish")
@web.require_manager_page
def confirm_publish():
    """Asked first: what everyone will answer, and the names everyone will see with it."""
    if g.principal.role not in MAY_WRITE:
        return _refused()
    draft = _versions().draft()
    if draft is None or draft["status"] != PILOT:
        return redirect(url_for(".overview"), code=303)
    return _render("manager_question_publish.html", draft=draft, credits=_credits(draft), errors={})


@bp.post("/draft/publish")
@web.require_manager_form
def publish():
    """The piloted draft becomes the questions everyone answers, with who shaped it."""
    if g.principal.role not in MAY_WRITE:
        return _refused()
    draft = _versions().draft()
    if draft is None or draft["status"] != PILOT:
        return redirect(url_for(".overview"), code=303)
    # The names it was written with may still be put right here (the questions may not).
    written_with = " ".join(request.form.get("written_with", draft.get("written_with", "")).split())
    if len(written_with) > drafting.MAX_NAMES:
        errors = {"written_with": f"Write at most {drafting.MAX_NAMES} letters here."}
        return _render("manager_question_publish.html", 400, draft=draft, credits=_credits(draft), errors=errors)
    credits = _credits({**draft, "written_with": written_with})
    try:
        _told(_versions().publish(draft, credits, g.principal.username))
    except VersionError as error:
        return _render("problem.html", 409, heading=str(error))
    return redirect(url_for(".overview", done="published"), code=303)


@bp.post("/draft/stop")
@web.require_manager_form
def stop():
    """Give the draft up (a piloted one stays known for the checks that answered it)."""
    if g.principal.role not in MAY_WRITE:
        return _refused()
    draft = _versions().draft()
    if draft is not None:
        try:
            stopped = _versions().stop(draft, g.principal.username)
            if draft["status"] == PILOT:
                _told(stopped)
        except VersionError as error:
            return _render("problem.html", 409, heading=str(error))
    return redirect(url_for(".overview", done="stopped"), code=303)
