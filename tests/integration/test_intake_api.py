"""The intake API over a real broker and database (Flask test client, real clients inside)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid

import pytest

from qc import auth
from qc.settings import TOPICS
from services.checks import create_app
from services.checks.directory import Directory
from tests.conftest import read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def client(settings):
    app = create_app(dataclasses.asdict(settings))
    directory = Directory(app.extensions["qc.checks"].db)
    directory.upsert("region", {"_id": "R01", "name": "Region 1", "active": True})
    directory.upsert("site", {"_id": "S0001", "name": "Oak House", "region_id": "R01", "active": True})
    directory.upsert("person", {"_id": "C1", "name": "C", "role": "checker", "site_id": "S0001", "active": True})
    token = auth.new_checker_token()
    directory.add_checker_token("C1", "S0001", auth.hash_checker_token(token))
    with app.test_client() as c:
        c.token = token
        yield c
    app.extensions["qc.close"]()


def _body(**changes):
    body = {
        "submission_id": str(uuid.uuid4()),
        "site_id": "S0001",
        "question_set": {"id": "everyday-life", "version": 1},
        "visited_on": dt.date.today().isoformat(),
        "answers": [{"question_id": "feel-safe", "score": 3, "comment": ""}],
    }
    body.update(changes)
    return body


def _post(client, body, token=None, **kw):
    headers = {"Authorization": f"Bearer {token or client.token}"}
    if isinstance(body, (bytes, str)):
        return client.post("/api/v1/submissions", data=body, headers=headers, content_type="application/json", **kw)
    return client.post("/api/v1/submissions", json=body, headers=headers, **kw)


def test_accepted_submission_is_on_the_topic_before_the_202(client, settings):
    body = _body()
    response = _post(client, body)
    assert response.status_code == 202
    # The producer waited for the ack, so the event is readable now.
    events = read_topic(
        settings, TOPICS["received"], lambda evs: any(e["id"] == body["submission_id"] for e in evs), timeout=10
    )
    [event] = [e for e in events if e["id"] == body["submission_id"]]
    assert event["data"]["checker_id"] == "C1" and event["subject"] == body["submission_id"]
    status = client.get(
        f"/api/v1/submissions/{body['submission_id']}", headers={"Authorization": f"Bearer {client.token}"}
    )
    assert status.json["status"] in ("accepted", "validated", "rejected")


def test_each_bad_field_is_named(client):
    response = _post(
        client,
        _body(
            submission_id="not-a-uuid",
            visited_on="yesterday",
            answers=[{"question_id": "feel-safe", "score": 7}],
            colour="blue",
        ),
    )
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    fields = {e["field"] for e in response.json["errors"]}
    assert fields == {"submission_id", "visited_on", "answers.0.score", "colour"}


@pytest.mark.parametrize(
    "raw,status,words",
    [
        (b'{"a": 1, "a": 2}', 400, "duplicate keys"),
        (b'{"unterminated": ', 400, "could not be read"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"submission_id": "\xff"}', 400, "could not be read"),
        (b"[" * 100000 + b"]" * 100000, 413, "larger than"),
    ],
)
def test_malformed_bodies_get_a_problem_document_not_a_500(client, raw, status, words):
    response = _post(client, raw)
    assert response.status_code == status
    assert words in response.json["detail"]


def test_deeply_nested_json_within_the_size_limit_is_a_400(client):
    response = _post(client, b"[" * 20000 + b"]" * 20000)
    assert response.status_code == 400


def test_without_a_valid_token_nothing_is_accepted(client):
    assert client.post("/api/v1/submissions", json=_body()).status_code == 401
    response = _post(client, _body(), token="made-up")
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers


def test_a_checker_cannot_submit_for_another_site(client):
    response = _post(client, _body(site_id="S0002"))
    assert response.status_code == 403


def test_json_content_type_is_required(client):
    response = client.post("/api/v1/submissions", data="x=1", headers={"Authorization": f"Bearer {client.token}"})
    assert response.status_code == 415


def test_question_set_is_served(client):
    body = client.get("/api/v1/question-sets/current").json
    assert body["id"] == "everyday-life" and body["version"] == 1
    assert any(q["safety"] for q in body["questions"]) and all(q["text"] for q in body["questions"])


def test_a_repeat_answers_the_same_without_a_second_event(client, settings):
    body = _body()
    assert _post(client, body).json == _post(client, body).json
    events = read_topic(settings, TOPICS["received"], lambda evs: any(e["id"] == body["submission_id"] for e in evs))
    assert sum(1 for e in events if e["id"] == body["submission_id"]) == 1
    assert json.loads(_post(client, {**body, "visited_on": "2026-01-01"}).data)["status"] == 409


def test_broker_down_means_503_with_retry_after_and_nothing_recorded(settings):
    """Never a 202 for something that is then lost."""
    from qc.devstack import free_port

    app = create_app(
        {
            **dataclasses.asdict(settings),
            "kafka_bootstrap": f"127.0.0.1:{free_port()}",
            "kafka_ack_timeout_seconds": 1.0,
        }
    )
    directory = Directory(app.extensions["qc.checks"].db)
    directory.upsert("site", {"_id": "S0001", "name": "Oak House", "region_id": "R01", "active": True})
    token = auth.new_checker_token()
    directory.add_checker_token("C1", "S0001", auth.hash_checker_token(token))
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with app.test_client() as c:
            body = _body()
            response = c.post("/api/v1/submissions", json=body, headers=headers)
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "30"
            assert c.get(f"/api/v1/submissions/{body['submission_id']}", headers=headers).status_code == 404
            ready = c.get("/readyz")
            assert ready.status_code == 503 and "broker" in ready.json["down"]
    finally:
        try:
            app.extensions["qc.close"]()
        except Exception:  # nothing to flush to a broker that is not there
            pass


def test_simultaneous_identical_posts_make_one_event(client, settings):
    """Several copies of one POST at the same moment (a phone retrying): one event, the same 202 for each."""
    from concurrent.futures import ThreadPoolExecutor

    bodies = [_body() for _ in range(10)]
    token = client.token
    app = client.application

    def post(body):
        with app.test_client() as c:
            response = c.post("/api/v1/submissions", json=body, headers={"Authorization": f"Bearer {token}"})
            return response.status_code, response.json

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, [b for b in bodies for _ in range(4)]))
    assert {status for status, _ in results} == {202}
    ids = {b["submission_id"] for b in bodies}
    seen = read_topic(settings, TOPICS["received"], lambda evs: ids <= {e["id"] for e in evs})
    counts = {i: sum(1 for e in seen if e["id"] == i) for i in ids}
    assert set(counts.values()) == {1}, counts
