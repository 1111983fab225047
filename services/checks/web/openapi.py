"""The checks service's API (intake, a check's status, the question set, manager tokens) as OpenAPI."""

from __future__ import annotations

from marshmallow import fields

from qc import openapi
from qc.openapi import Output, operation
from services.checks.web.schemas import SubmissionSchema, TokenRequestSchema


class Accepted(Output):
    submission_id = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["accepted"]})


class SubmissionStatus(Output):
    submission_id = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "accepted, validated or rejected"})
    reasons = fields.List(fields.Raw(), required=True, metadata={"description": "why it was not counted"})
    responses = fields.List(fields.Raw(), required=True, metadata={"description": "what managers did about it"})
    site_id = fields.String(required=True)
    visited_on = fields.String(required=True)
    received_at = fields.String(required=True)


class QuestionSet(Output):
    id = fields.String(required=True)
    version = fields.Integer(required=True)
    questions = fields.List(fields.Dict(), required=True)


class Token(Output):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"enum": ["Bearer"]})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})


SUBMISSION_ID = openapi.path_parameter("submission_id", "the submission's UUID, chosen by the app that sent it")

PATHS = {
    "/api/v1/submissions": {
        "post": operation(
            "Send a check (or a worry on its own, with kind 'worry'); 202 only once the broker has it",
            (202, Accepted, "Accepted; the same submission_id sent again answers 202 again and is one check"),
            problems=(403, 409, 429),
            body=SubmissionSchema,
            tag="intake",
        )
    },
    "/api/v1/submissions/{submission_id}": {
        "get": operation(
            "A check's status, the reasons it was not counted and managers' responses (its checker or its managers)",
            (200, SubmissionStatus, "The check"),
            problems=(403, 404),
            parameters=[SUBMISSION_ID],
            tag="intake",
        )
    },
    "/api/v1/question-sets/current": {
        "get": operation(
            "The question set the form asks now",
            (200, QuestionSet, "The question set"),
            signed_in=False,
            tag="intake",
        )
    },
    "/api/v1/auth/token": {
        "post": operation(
            "A manager's username and password for a bearer token every service accepts",
            (200, Token, "The token"),
            problems=(401, 429),
            body=TokenRequestSchema,
            signed_in=False,
            tag="sign-in",
        )
    },
}


bp = openapi.blueprint(
    "Quality checks: intake",
    "Checks sent by quality checkers' apps, their status, and managers' bearer tokens.",
    PATHS,
)
