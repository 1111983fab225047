"""The intake API over a real broker and database (Flask test client, real clients inside)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import uuid

import pytest

from qc import auth, mongo
from qc.generations import Generation
from qc.handler import Delivery
from qc.settings import TOPICS
from services.checks.bootstrap import create_app
from services.checks.stores import acks
from services.checks.stores.directory import Directory
from services.checks.stores.token_table import TokenTable
from tests import builders
from tests.conftest import read_topic, wait_for

pytestmark = pytest.mark.integration


def _post(client, body, token=None, **kw):
    headers = {"Authorization": f"Bearer {token or client.token}"}
    if isinstance(body, (bytes, str)):
        return client.post("/api/v1/submissions", data=body, headers=headers, content_type="application/json", **kw)
    return client.post("/api/v1/submissions", json=body, headers=headers, **kw)


def test_accepted_submission_is_on_the_topic_before_the_202(client, settings):
    body = builders.intake_body()
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


def test_the_acknowledgement_is_written_off_the_request_path_and_read_at_once_here(client):
    body = builders.intake_body()
    submissions = client.application.extensions["qc.checks"].submissions
    submissions.acks._closing.set()  # no writing thread: only the test's write below writes it
    assert _post(client, body).status_code == 202
    record = submissions.collection.find_one({"_id": body["submission_id"]})
    assert record["status"] == "sending"  # the record is never rewritten for it (acks.py)
    assert submissions.get(body["submission_id"])["status"] == "accepted"  # as this process reads it
    status = client.get(
        f"/api/v1/submissions/{body['submission_id']}", headers={"Authorization": f"Bearer {client.token}"}
    )
    assert status.status_code == 200 and status.json["status"] == "accepted"
    assert acks.written(submissions.collection.database, [record]) == set()  # nobody else knows yet
    assert submissions.acks.write() == 1
    assert acks.written(submissions.collection.database, [record]) == {body["submission_id"]}
    assert submissions.collection.find_one({"_id": body["submission_id"]})["status"] == "sending"


def test_another_process_answers_accepted_once_the_mark_is_written(client, settings):
    """A status asked of another web process while the mark is on its way is waited for, not a 404."""
    body = builders.intake_body()
    submissions = client.application.extensions["qc.checks"].submissions
    submissions.acks._closing.set()  # no writing thread: it is written below, a moment after the question
    assert _post(client, body).status_code == 202
    other = create_app(dataclasses.asdict(settings))
    try:
        writer = threading.Timer(0.3, submissions.acks.write)
        writer.start()
        status = other.test_client().get(
            f"/api/v1/submissions/{body['submission_id']}", headers={"Authorization": f"Bearer {client.token}"}
        )
        writer.join()
        assert status.status_code == 200 and status.json["status"] == "accepted"
    finally:
        other.extensions["qc.close"]()


def test_each_bad_field_is_named(client):
    response = _post(
        client,
        builders.intake_body(
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
    assert client.post("/api/v1/submissions", json=builders.intake_body()).status_code == 401
    response = _post(client, builders.intake_body(), token="made-up")
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers


def test_a_link_stopped_elsewhere_is_refused_within_a_second(client, settings):
    """A supporter stops a lost phone's link (another web process, its own connection): refused within a second."""
    assert _post(client, builders.intake_body()).status_code == 202
    other_process = mongo.connect(settings, "qc-tests-other")
    try:
        assert Directory(other_process).revoke_checker_tokens("C1") == 1
    finally:
        other_process.client.close()
    wait_for(
        lambda: _post(client, builders.intake_body()).status_code == 401, timeout=5, what="the stopped link refused"
    )


def test_a_process_holding_a_stopped_link_drops_it_at_its_next_refresh(checks_app, settings):
    """The bound, on a clock the test turns: held until the next read of the stop counter, refused from then."""
    db = checks_app.extensions["qc.checks"].db
    now = [1000.0]
    table = TokenTable(
        db["checker_tokens"], Generation(db, "checker-link-stops"), refresh_seconds=0.5, clock=lambda: now[0]
    )
    token_hash = auth.hash_checker_token(checks_app.token)
    assert table.live(token_hash)["checker_id"] == "C1"
    other_process = mongo.connect(settings, "qc-tests-other")
    try:
        Directory(other_process).revoke_checker_tokens("C1")
    finally:
        other_process.client.close()
    now[0] += 0.4
    assert table.live(token_hash) is not None  # still held: the counter is not read again yet
    now[0] += 0.1
    assert table.live(token_hash) is None  # half a second on: the stop is seen, the record read again


def test_a_link_stopped_in_this_process_is_refused_at_once(client):
    assert _post(client, builders.intake_body()).status_code == 202
    client.application.extensions["qc.checks"].directory.revoke_checker_tokens("C1")
    assert _post(client, builders.intake_body()).status_code == 401


def test_every_live_token_is_held_after_the_first_request(client):
    """The whole table is read once: another checker's first request then costs no database read."""
    directory = client.application.extensions["qc.checks"].directory
    directory.upsert("person", {"_id": "C2", "name": "D", "role": "checker", "site_id": "S0001", "active": True})
    other = auth.new_checker_token()
    directory.add_checker_token("C2", "S0001", auth.hash_checker_token(other))
    directory.token_table.forget()  # as in a process started after both links were made
    assert _post(client, builders.intake_body()).status_code == 202
    directory.tokens = None  # any read of the collection would now fail
    directory.token_table.tokens = None
    assert _post(client, builders.intake_body()).status_code == 202
    assert _post(client, builders.intake_body(), token=other).status_code == 202


def test_a_checker_cannot_submit_for_another_site(client):
    response = _post(client, builders.intake_body(site_id="S0002"))
    assert response.status_code == 403


def test_json_content_type_is_required(client):
    response = client.post("/api/v1/submissions", data="x=1", headers={"Authorization": f"Bearer {client.token}"})
    assert response.status_code == 415


def test_question_set_is_served(client):
    body = client.get("/api/v1/question-sets/current").json
    assert body["id"] == "everyday-life" and body["version"] == 3
    assert any(q["safety"] for q in body["questions"]) and all(q["text"] for q in body["questions"])
    [sure] = [q for q in body["questions"] if q.get("kind") == "confidence"]
    assert sure["id"] == "things-will-get-better"
    assert sure["answer_words"] == {"3": "Yes", "2": "Maybe", "1": "No"}
    assert sure["text"] == "Do you think things will get better here?"


def test_a_repeat_answers_the_same_without_a_second_event(client, settings):
    body = builders.intake_body()
    assert _post(client, body).json == _post(client, body).json
    events = read_topic(settings, TOPICS["received"], lambda evs: any(e["id"] == body["submission_id"] for e in evs))
    assert sum(1 for e in events if e["id"] == body["submission_id"]) == 1
    assert json.loads(_post(client, {**body, "visited_on": "2026-01-01"}).data)["status"] == 409


def test_broker_down_means_503_with_retry_after_and_nothing_recorded(settings):
    """Never a 202 for something that is then lost."""
    from qc_tools.devstack import free_port

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
            body = builders.intake_body()
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

    bodies = [builders.intake_body() for _ in range(10)]
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


# --- who answered and what they agreed to share; the visit date ---------------------------------------


def _received_event(settings, submission_id) -> dict:
    events = read_topic(settings, TOPICS["received"], lambda evs: any(e["id"] == submission_id for e in evs))
    [event] = [e for e in events if e["id"] == submission_id]
    return event


def test_sharing_defaults_are_filled_in_on_the_event(client, settings):
    """A body without the sharing fields: the event carries the safe defaults, so consumers never guess."""
    body = builders.intake_body(
        answers=[{"question_id": "feel-safe", "score": 3, "comment": ""}, {"question_id": "respect", "score": 1}]
    )
    assert _post(client, body).status_code == 202
    data = _received_event(settings, body["submission_id"])["data"]
    assert data["answered_by"] == "alone"
    assert data["texts_share"] == "anonymous" and data["urgent_concern_share"] == "anonymous"
    assert [a["share"] for a in data["answers"]] == ["anonymous", "anonymous"]


def test_sharing_choices_are_on_the_event(client, settings):
    body = builders.intake_body(
        answers=[
            {"question_id": "feel-safe", "score": 1, "comment": "", "share": "named"},
            {"question_id": "respect", "score": 3, "comment": "", "share": "anonymous"},
        ],
        answered_by="supporter_wrote",
        texts_share="named",
        urgent_concern="The back door does not lock",
        urgent_concern_share="anonymous",
    )
    assert _post(client, body).status_code == 202
    data = _received_event(settings, body["submission_id"])["data"]
    assert data["answered_by"] == "supporter_wrote" and data["texts_share"] == "named"
    assert data["urgent_concern_share"] == "anonymous"
    assert {a["question_id"]: a["share"] for a in data["answers"]} == {"feel-safe": "named", "respect": "anonymous"}


def test_bad_sharing_values_are_named(client):
    body = builders.intake_body(
        answers=[{"question_id": "feel-safe", "score": 3, "comment": "", "share": "everyone"}],
        answered_by="robot",
        texts_share=None,
        urgent_concern_share="public",
    )
    response = _post(client, body)
    assert response.status_code == 422 and response.content_type == "application/problem+json"
    fields = {e["field"] for e in response.json["errors"]}
    assert fields == {"answers.0.share", "answered_by", "texts_share", "urgent_concern_share"}


@pytest.mark.parametrize(
    "change",
    [
        {"answered_by": "with_supporter"},
        {"texts_share": "named"},
        {"urgent_concern_share": "named"},
        {"answers": [{"question_id": "feel-safe", "score": 3, "comment": "", "share": "named"}]},
    ],
)
def test_the_same_id_with_other_sharing_is_a_conflict(client, change):
    """Sharing is part of what was said: changing it under the same submission_id is a different check."""
    body = builders.intake_body()
    assert _post(client, body).status_code == 202
    # The defaults written out in full are the same check as the defaults left out.
    explicit = {
        **body,
        "answered_by": "alone",
        "texts_share": "anonymous",
        "urgent_concern_share": "anonymous",
        "answers": [{**a, "share": "anonymous"} for a in body["answers"]],
    }
    assert _post(client, explicit).status_code == 202
    conflict = _post(client, {**body, **change})
    assert conflict.status_code == 409, change


@pytest.mark.parametrize("days_ago,words", [(-1, "future"), (91, "more than 90 days ago")])
def test_visit_dates_out_of_range_are_refused_naming_visited_on(client, settings, days_ago, words):
    body = builders.intake_body(visited_on=(dt.date.today() - dt.timedelta(days=days_ago)).isoformat())
    response = _post(client, body)
    assert response.status_code == 422 and response.content_type == "application/problem+json"
    [error] = response.json["errors"]
    assert error["field"] == "visited_on" and words in error["message"]
    status = client.get(
        f"/api/v1/submissions/{body['submission_id']}", headers={"Authorization": f"Bearer {client.token}"}
    )
    assert status.status_code == 404, "nothing was recorded"


def test_a_retry_after_the_date_went_out_of_range_gets_the_first_answer(client):
    """A phone that sends a check again much later (its first answer was lost) is told it arrived, not 422."""
    ctx = client.application.extensions["qc.checks"]
    body = builders.intake_body(visited_on=(dt.date.today() - dt.timedelta(days=5)).isoformat())
    first = _post(client, body)
    assert first.status_code == 202
    ctx.settings = ctx.settings.replace(visit_window_days=2)  # as if the days had passed
    again = _post(client, body)
    assert again.status_code == 202 and again.json == first.json
    assert _post(client, {**body, "submission_id": str(uuid.uuid4())}).status_code == 422


def test_the_validated_event_carries_the_sharing_fields(client, settings, publisher):
    """The validator passes who answered and what may be shared through to submission.validated."""
    from services.checks.worker import ChecksHandler

    body = builders.intake_body(
        answers=[{"question_id": "feel-safe", "score": 1, "comment": "", "share": "named"}],
        answered_by="with_supporter",
        working=["the garden"],
        texts_share="named",
    )
    assert _post(client, body).status_code == 202
    received = _received_event(settings, body["submission_id"])
    # An event from before the fields existed (no sharing fields) is upgraded with the safe defaults.
    old = json.loads(json.dumps(received))
    old["id"] = old["data"]["submission_id"] = old["subject"] = str(uuid.uuid4())
    old["data"]["content_hash"] = "1" * 64  # not a duplicate of the first
    for field in ("answered_by", "texts_share", "urgent_concern_share"):
        del old["data"][field]
    for answer in old["data"]["answers"]:
        del answer["share"]
    from qc import events as qc_events

    qc_events.validate(old, schemas_dir=settings.schemas_dir)  # old events stay valid
    handler = ChecksHandler(settings, client.application.extensions["qc.checks"].db, publisher)
    handler.handle([Delivery(record=None, event=received), Delivery(record=None, event=old)])
    publisher.flush()
    wanted = {body["submission_id"], old["data"]["submission_id"]}
    seen = read_topic(
        settings, TOPICS["validated"], lambda evs: wanted <= {e["data"]["submission_id"] for e in evs}, timeout=20
    )
    by_id = {e["data"]["submission_id"]: e for e in seen if e["data"]["submission_id"] in wanted}
    new_data = by_id[body["submission_id"]]["data"]
    assert new_data["answered_by"] == "with_supporter" and new_data["texts_share"] == "named"
    assert new_data["urgent_concern_share"] == "anonymous"
    assert new_data["answers"] == [
        {"question_id": "feel-safe", "score": 1, "comment": "", "share": "named", "safety": True}
    ]
    old_data = by_id[old["data"]["submission_id"]]["data"]
    assert (old_data["answered_by"], old_data["texts_share"], old_data["urgent_concern_share"]) == (
        "alone",
        "anonymous",
        "anonymous",
    )
    assert old_data["answers"][0]["share"] == "anonymous"
    for event in by_id.values():
        qc_events.validate(event, schemas_dir=settings.schemas_dir)
