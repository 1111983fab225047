"""The two baselines the intake API is read against, run under the same gunicorn settings.

``hello``: the least a Flask app under gunicorn can do. ``skeleton``: parse the
JSON body, validate it with the intake's marshmallow schema and hand it to a
Kafka producer (``producer.send`` without waiting for the acknowledgement):
the intake minus auth, idempotency, the acknowledgement wait and the record.
"""

from __future__ import annotations

import json

from flask import Flask, request
from marshmallow import ValidationError

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


def create_skeleton_app() -> Flask:
    """POST /api/v1/submissions: parse, validate, ``producer.send``, 202."""
    settings = Settings.from_env()
    producer = make_producer(settings, "bench-skeleton")
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
        producer.send(TOPICS["received"], key=data["site_id"].encode(), value=json.dumps(body).encode())
        return {"submission_id": str(data["submission_id"]), "status": "accepted"}, 202

    def close():
        producer.flush(timeout=10)
        producer.close(timeout=10)

    app.extensions["qc.close"] = close  # qc_tools/gunicorn_conf.py's worker_exit flushes it
    return app
