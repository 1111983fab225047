"""The baselines the intake API is read against, run under the same gunicorn settings.

``hello``: the least a Flask app under gunicorn can do. ``skeleton``: parse the
JSON body, validate it with the intake's marshmallow schema and hand it to a
Kafka producer (``producer.send`` without waiting for the acknowledgement):
the intake minus auth, idempotency, the acknowledgement wait and the record.
``floor``: the skeleton plus the two things no correct intake can leave out,
a claim of the submission id (one unique ``_id`` insert, shared with the
requests in flight, as the intake's) and the wait for the broker's
acknowledgement (acks=all, linger 0, as the intake's) before the 202. What the
intake costs beyond the floor is its own; what the floor costs beyond the
skeleton is the machine's price for not losing or doubling a check.
"""

from __future__ import annotations

import json

from flask import Flask, request
from marshmallow import ValidationError

from qc import events, mongo, web_app
from qc.kafka import make_producer
from qc.settings import TOPICS, Settings
from services.checks.web.schemas import SubmissionSchema


def create_hello_app() -> Flask:
    """GET/POST anything: 200 "hello"."""
    app = Flask(__name__)

    @app.route("/healthz")
    @app.route("/api/v1/submissions", methods=["POST"])
    def hello():
        return "hello"

    return app


def _submissions_app(accept, close) -> Flask:
    """A baseline app: ``/healthz``, and POST /api/v1/submissions parsed and validated with the intake's schema,
    then answered by ``accept(body, data)``; ``close`` runs at worker exit (qc_tools/gunicorn_conf.py)."""
    schema = SubmissionSchema()
    app = Flask(__name__)

    @app.route("/healthz")
    def healthz():
        return "ok"

    @app.post("/api/v1/submissions")
    def submit():
        body = json.loads(request.get_data())
        try:
            data = schema.load(body)
        except ValidationError as e:
            return {"errors": e.messages}, 422
        return accept(body, data)

    app.extensions["qc.close"] = close
    return app


def create_skeleton_app() -> Flask:
    """POST /api/v1/submissions: parse, validate, ``producer.send``, 202."""
    producer = make_producer(Settings.from_env(), "bench-skeleton")

    def accept(body: dict, data: dict):
        producer.send(TOPICS["received"], key=data["site_id"].encode(), value=json.dumps(body).encode())
        return {"submission_id": str(data["submission_id"]), "status": "accepted"}, 202

    def close():
        producer.flush(timeout=10)
        producer.close(timeout=10)

    return _submissions_app(accept, close)


def create_floor_app() -> Flask:
    """POST /api/v1/submissions: parse, validate, claim the id, send and wait for acks=all, 202 (409 if claimed)."""
    settings = Settings.from_env()
    publisher = web_app.publisher(settings, "bench-floor", source="bench/floor")
    db = mongo.connect(settings, "bench-floor")
    claims, collection = mongo.GroupInsert(db.client), db["bench_floor_claims"]

    def accept(body: dict, data: dict):
        submission_id = str(data["submission_id"])
        if not claims.insert((collection, {"_id": submission_id, "site_id": data["site_id"]}))[0]:
            return {"submission_id": submission_id, "status": "conflict"}, 409
        event = events.make_event(
            "org.qc.submission.received", source="bench/floor", subject=submission_id, data=body, event_id=submission_id
        )
        publisher.publish_sync(TOPICS["received"], data["site_id"], event)
        return {"submission_id": submission_id, "status": "accepted"}, 202

    def close():
        publisher.close()
        db.client.close()

    return _submissions_app(accept, close)
