"""Each service's HTTP API described once, as an OpenAPI 3.1 document served at ``/openapi.json``.

Built with apispec from marshmallow schemas: the request bodies the API loads
with marshmallow are described by those same schemas, and what it answers by
the output schemas next to each service's description (``services/<name>/openapi.py``).
Output schemas allow fields beyond those they list (``INCLUDE``): a client
must not break when an answer gains a field, and the fuzz tier checks every
answer against them.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint
from marshmallow import INCLUDE, Schema, fields

OPENAPI_VERSION = "3.1.0"
JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
CSV = "text/csv"

# What each status means in every one of the services' APIs (the problem's own title and detail say more).
PROBLEMS = {
    400: "The request is malformed: a query parameter is wrong ('errors' names it) or the body is not JSON",
    401: "Not signed in: no valid bearer token (or, signing in, a wrong username or password)",
    403: "Signed in, but this is not yours to see or change",
    404: "Nothing with this id that you can see",
    405: "Not allowed on this address",
    409: "Conflicts with what is already there",
    413: "The body is too big",
    415: "The body is not JSON",
    422: "The body is not right (each entry in 'errors' names a field and what is wrong with it)",
    429: "Too many requests: wait the Retry-After seconds",
    503: "Not possible just now (the broker or database is down): try again after Retry-After",
}


class Output(Schema):
    """An answer of the API: the fields listed are there, others may be added."""

    class Meta:
        unknown = INCLUDE


class FieldError(Output):
    field = fields.String(allow_none=True, metadata={"description": "the field, as a dotted path"})
    message = fields.String(required=True)


class Problem(Output):
    """An RFC 9457 problem document."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.List(fields.Nested(FieldError))


def path_parameter(name: str, description: str, example: str | None = None) -> dict:
    out = {"in": "path", "name": name, "required": True, "schema": {"type": "string"}, "description": description}
    if example is not None:
        out["example"] = example
    return out


def query(name: str, description: str, *, enum: Iterable[str] | None = None, required: bool = False) -> dict:
    schema: dict = {"type": "string"}
    if enum is not None:
        schema["enum"] = list(enum)
    return {"in": "query", "name": name, "required": required, "schema": schema, "description": description}


def operation(
    summary: str,
    ok: tuple[int, type[Schema], str],
    *,
    problems: Iterable[int] = (),
    body: type[Schema] | None = None,
    parameters: Iterable[dict] = (),
    signed_in: bool = True,
    csv: bool = False,
    tag: str | None = None,
) -> dict:
    """One operation: its success answer ``(status, schema, description)`` and the problems it may answer."""
    status, schema, description = ok
    content = {JSON: {"schema": schema}}
    if csv:
        content[CSV] = {"schema": {"type": "string"}}
    responses = {str(status): {"description": description, "content": content}}
    # Any operation may find the database or broker down; a body may be malformed, too big or not JSON.
    codes = set(problems) | {503} | ({400, 413, 415, 422} if body else set()) | ({401} if signed_in else set())
    for code in sorted(codes):
        responses[str(code)] = {"description": PROBLEMS[code], "content": {PROBLEM_JSON: {"schema": Problem}}}
    out: dict = {"summary": summary, "responses": responses}
    if tag:
        out["tags"] = [tag]
    if parameters:
        out["parameters"] = list(parameters)
    if body is not None:
        out["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    out["security"] = [{"bearer": []}] if signed_in else []
    return out


def document(title: str, description: str, paths: dict[str, dict[str, dict]]) -> dict:
    """The OpenAPI document of one service: ``paths`` maps an address to its operations by method."""
    spec = APISpec(
        title=title,
        version="1",
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={"description": description},
    )
    spec.components.security_scheme(
        "bearer",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "A checker's link token, or a manager's token from POST /api/v1/auth/token on checks",
        },
    )
    for address, operations in paths.items():
        spec.path(path=address, operations=operations)
    return spec.to_dict()


def blueprint(title: str, description: str, paths: dict[str, dict[str, dict]]) -> Blueprint:
    """``GET /openapi.json``: the service's document, built on first request, once per process."""
    bp = Blueprint("openapi", __name__)
    built = cache(lambda: document(title, description, paths))

    @bp.get("/openapi.json")
    def openapi_document():
        return built()

    return bp
