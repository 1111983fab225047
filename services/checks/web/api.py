"""The intake API: submissions in, their status out; manager sign-in."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, request
from marshmallow import ValidationError

from qc import auth, jsonbody, rate_limited, web
from services.checks import metrics as checks_metrics
from services.checks.stores.submissions import SENDING
from services.checks.web import intake
from services.checks.web.passwords import check_manager_password
from services.checks.web.schemas import TokenRequestSchema, flatten_errors

bp = Blueprint("checks_api", __name__, url_prefix="/api/v1")
log = logging.getLogger(__name__)
_token_schema = TokenRequestSchema()


def _ctx():
    return current_app.extensions["qc.checks"]


def _json_body():
    """The request's JSON object, or a problem document saying what is wrong with it (strict: qc.jsonbody)."""
    return jsonbody.request_object()


def _checker():
    """The checker behind the bearer token, or a 401 problem."""
    try:
        token = auth.bearer_token(request.headers.get("Authorization"))
    except auth.AuthError as e:
        return None, _unauthorised(str(e))
    record = _ctx().directory.checker_for_token(auth.hash_checker_token(token))
    if record is None:
        return None, _unauthorised("This sign-in link is not valid any more. Ask your supporter for a new one.")
    return record, None


def _unauthorised(detail: str):
    return web.problem(401, "Not signed in", detail, headers={"WWW-Authenticate": 'Bearer realm="qc"'})


# Address first: a flood from one place is stopped before it fills token counters.
LIMIT_SUBMISSIONS = rate_limited.limit(
    "submissions",
    (rate_limited.by_address, "rate_limit_submissions_per_address_per_minute"),
    (rate_limited.by_checker_token, "rate_limit_submissions_per_minute"),
    shared=False,  # the hot path: counted per process (qc/ratelimit.py says what that lets through)
)
LIMIT_SIGN_IN = rate_limited.limit("signin", (rate_limited.by_address, "rate_limit_signin_per_minute"))


@bp.post("/submissions")
@LIMIT_SUBMISSIONS
def post_submission():
    """Accept a check: 202 only once the broker has it (acks=all)."""
    token_record, error = _checker()
    if error:
        checks_metrics.SUBMISSIONS.labels("unauthorised").inc()
        return error
    body, error = _json_body()
    if error:
        checks_metrics.SUBMISSIONS.labels("invalid").inc()
        return error
    result = intake.accept(_ctx(), token_record, body, request.headers.get("X-Correlation-ID"))
    return intake_response(result)


def intake_response(result: intake.Result):
    """The HTTP answer for an intake result (shared with the form's JSON endpoint)."""
    if result.ok:
        return _accepted(result.submission_id)
    if result.outcome == intake.INVALID:
        return web.problem(
            422,
            "Some answers need fixing",
            "The submission was not accepted. Each entry in 'errors' names a field and what is wrong with it.",
            errors=result.errors,
        )
    if result.outcome == intake.FORBIDDEN:
        return web.problem(
            403, "Not your service", "Your sign-in link is for a different service from the one in 'site_id'."
        )
    if result.outcome == intake.CONFLICT:
        return web.problem(
            409,
            "Submission id already used",
            "This submission_id belongs to a different submission. Make a new UUID for a new check.",
        )
    return web.problem(
        503,
        "Please try again soon",
        "We could not save your check just now. It has not been sent; please try again in a minute.",
        headers={"Retry-After": "30"},
    )


def _accepted(submission_id: str):
    return (
        {"submission_id": submission_id, "status": "accepted"},
        202,
        {"Location": f"/api/v1/submissions/{submission_id}"},
    )


@bp.get("/submissions/<submission_id>")
def get_submission(submission_id: str):
    """A submission's status, reasons and managers' responses: for its checker or its managers."""
    ctx = _ctx()
    try:
        token = auth.bearer_token(request.headers.get("Authorization"))
    except auth.AuthError as e:
        return _unauthorised(str(e))
    doc = ctx.submissions.get(submission_id)
    checker = ctx.directory.checker_for_token(auth.hash_checker_token(token))
    if checker is not None:
        if doc is None or doc["checker_id"] != checker["checker_id"]:
            return web.problem(404, "Not found", "There is no submission with this id for you.")
        return _status_once_settled(ctx, doc, "There is no submission with this id for you.")
    try:
        principal = web.verify_manager_token(ctx.settings, token)
    except auth.AuthError as e:
        return _unauthorised(str(e))
    if doc is None:
        return web.problem(404, "Not found", f"There is no submission {submission_id}.")
    site = ctx.directory.site(doc["site_id"]) or {}
    if not principal.can_see_site(doc["site_id"], site.get("region_id")):
        return web.forbidden("this submission")
    return _status_once_settled(ctx, doc, f"There is no submission {submission_id}.")


def _status_once_settled(ctx, doc: dict, not_found: str):
    """The status; a record still "sending" (claimed, not yet acknowledged by the broker) is not accepted (yet)."""
    if doc["status"] == SENDING:
        doc = ctx.submissions.settled(doc["_id"])  # its mark may be on its way from another process
        if doc is None or doc["status"] == SENDING:
            return web.problem(404, "Not found", not_found)
    return _status(doc)


def _status(doc: dict):
    return {
        "submission_id": doc["_id"],
        "status": doc["status"],
        "reasons": doc.get("reasons", []),
        "responses": doc.get("responses", []),
        "site_id": doc["site_id"],
        "visited_on": doc["visited_on"],
        "received_at": doc["received_at"],
    }


@bp.get("/question-sets/current")
def current_question_set():
    """The form definition the checker answers."""
    return _ctx().question_sets.current()


@bp.post("/auth/token")
@LIMIT_SIGN_IN
def issue_token():
    """Exchange a manager's username and password for a signed bearer token."""
    body, error = _json_body()
    if error:
        return error
    try:
        creds = _token_schema.load(body)
    except ValidationError as e:
        return web.problem(
            422, "Username and password needed", "Send 'username' and 'password'.", errors=flatten_errors(e.messages)
        )
    ctx = _ctx()
    person = check_manager_password(ctx.directory, ctx.hasher, creds["username"], creds["password"], "api")
    if person is None:
        return _unauthorised("The username or password is not right.")
    principal = auth.Principal(
        username=person["username"],
        role=person["role"],
        region_id=person.get("region_id"),
        site_id=person.get("site_id"),
    )
    return {
        "access_token": auth.issue_manager_token(ctx.settings.secret_key, principal),
        "token_type": "Bearer",
        "expires_in": ctx.settings.token_ttl_seconds,
    }
