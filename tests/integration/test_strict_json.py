"""Strict JSON on every JSON endpoint of every service: odd bodies get a 4xx problem document, never a 500."""

from __future__ import annotations

import pytest

from qc import web
from tests import builders
from tests.integration.world import checker_csrf

pytestmark = pytest.mark.integration

# (service, path, credential) for each endpoint that reads a JSON body. aggregate has none (GET only).
ENDPOINTS = {
    "submissions": ("checks", "/api/v1/submissions", ("checker", "C1")),
    "auth-token": ("checks", "/api/v1/auth/token", None),
    "form-submit": ("checks", "/check/submit", ("phone", "C1")),
    "resolve": ("notify", "/api/v1/alerts/{alert}/resolve", ("bearer", "rm1")),
    "silences": ("notify", "/api/v1/silences", ("bearer", "rm1")),
}
BAD = {
    "huge float": b'{"a": 1e400}',
    "huge negative float": b'{"a": -1e400}',
    "thousands of digits": b'{"a": 1' + b"0" * 5000 + b"}",
    "past 2**53": b'{"a": 9007199254740993}',
    "long fraction": b'{"a": 0.' + b"1" * 5000 + b"}",
    "NaN": b'{"a": NaN}',
    "Infinity": b'{"a": Infinity}',
    "-Infinity": b'{"a": [-Infinity]}',
    "array": b"[]",
    "string": b'"text"',
    "number": b"42",
    "null": b"null",
    "true": b"true",
    "empty": b"",
    "duplicate keys": b'{"a": 1, "a": 1}',
    "nested duplicate keys": b'{"a": {"b": 1, "b": 2}}',
    "lone surrogate": b'{"a": "\\ud800"}',
    "lone surrogate key": b'{"\\udfff": 1}',
    "invalid UTF-8": b'{"a": "\xff\xfe"}',
    "UTF-16": '{"a": 1}'.encode("utf-16"),
    "UTF-8 BOM": b'\xef\xbb\xbf{"a": 1}',
    "deep nesting": b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}",
    "very deep nesting": b"[" * 30000 + b"]" * 30000,
    "trailing garbage": b'{"a": 1} x',
    "single quotes": b"{'a': 1}",
}


def _post(world, name: str, data: bytes, content_type: str = "application/json"):  # noqa: F811
    service, path, cred = ENDPOINTS[name]
    client = world.apps[service].test_client()
    headers = {}
    if cred and cred[0] in ("checker", "bearer"):
        tokens = world.checker_tokens if cred[0] == "checker" else world.manager_tokens
        headers["Authorization"] = f"Bearer {tokens[cred[1]]}"
    elif cred:
        client.set_cookie("qc_checker", world.checker_tokens[cred[1]])
        headers["X-CSRF-Token"] = checker_csrf(world, cred[1])
    path = path.format(alert=world.fresh_alert() if "{alert}" in path else "")
    return client.post(path, data=data, headers=headers, content_type=content_type)


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@pytest.mark.parametrize("case", sorted(BAD))
def test_odd_bodies_get_a_problem_document(world, endpoint, case):  # noqa: F811
    response = _post(world, endpoint, BAD[case])
    assert response.status_code in (400, 413), (response.status_code, response.get_data(as_text=True)[:300])
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == response.status_code and response.json["detail"]


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_json_is_required(world, endpoint):  # noqa: F811
    response = _post(world, endpoint, b"response=hello", content_type="application/x-www-form-urlencoded")
    if endpoint == "form-submit":
        # The form's CSRF check comes first and looks in the form for its token: the form-post answer.
        assert response.status_code == 400 and "Please go back and try again" in response.get_data(as_text=True)
    else:
        assert response.status_code == 415 and response.content_type == "application/problem+json"


@pytest.mark.parametrize(
    "case,words",
    [
        (b'{"a": 1e400}', "too large"),
        (b'{"a": 1' + b"0" * 5000 + b"}", "between"),
        (b'{"a": NaN}', "NaN is not allowed"),
        (b'{"a": 1, "a": 2}', "duplicate keys"),
        (b"[1]", "must be a JSON object"),
        (b'{"a": "\\ud800"}', "surrogate"),
        (b"[" * 50 + b"]" * 50, "nested more than"),
    ],
)
def test_the_problem_says_what_is_wrong(world, case, words):  # noqa: F811
    assert words in _post(world, "submissions", case).json["detail"]


def test_well_formed_but_wrong_values_are_422_not_500(world):  # noqa: F811
    safe_max = 2**53 - 1
    for body in (
        builders.intake_body(answers=[{"question_id": "feel-safe", "score": safe_max}]),
        builders.intake_body(answers=[{"question_id": "feel-safe", "score": 2.0}]),
        builders.intake_body(answers=[{"question_id": "feel-safe", "score": -safe_max}]),
        builders.intake_body(visited_on="9999-99-99"),
        builders.intake_body(site_id={"$ne": None}),
    ):
        headers = {"Authorization": f"Bearer {world.checker_tokens['C1']}"}
        response = world.apps["checks"].test_client().post("/api/v1/submissions", json=body, headers=headers)
        assert response.status_code == 422, response.json
    token = {"Authorization": f"Bearer {world.manager_tokens['rm1']}"}
    notify = world.apps["notify"].test_client()
    for body in (
        {"matchers": {"region_id": {"$ne": None}}, "ends_at": "2099-01-01T00:00:00Z", "reason": "x"},
        {"matchers": {"rule": ["low_score"]}, "ends_at": "2099-01-01T00:00:00Z", "reason": "x"},
        {"matchers": {"rule": "low_score"}, "ends_at": safe_max, "reason": "x"},
        {"matchers": {"rule": "low_score"}, "ends_at": "+275760-09-13T00:00:00Z", "reason": "x"},
    ):
        assert notify.post("/api/v1/silences", json=body, headers=token).status_code == 422
    resolve = notify.post(f"/api/v1/alerts/{world.fresh_alert()}/resolve", json={"response": safe_max}, headers=token)
    assert resolve.status_code == 422
    signin = world.apps["checks"].test_client().post("/api/v1/auth/token", json={"username": 1, "password": None})
    assert signin.status_code == 422


def test_acknowledge_ignores_its_body_and_a_cookie_cannot_change_anything(world):  # noqa: F811
    notify = world.apps["notify"].test_client()
    alert = world.fresh_alert()
    headers = {"Authorization": f"Bearer {world.manager_tokens['rm1']}"}
    response = notify.post(f"/api/v1/alerts/{alert}/acknowledge", data=b"[NaN", headers=headers)
    assert response.status_code == 200 and response.json["status"] == "acknowledged"
    notify.set_cookie(web.MANAGER_COOKIE, world.manager_tokens["rm1"])
    assert notify.post(f"/api/v1/alerts/{world.fresh_alert()}/acknowledge").status_code == 401
