"""Shared test builders: events, deliveries and handlers, built once for every test module that needs them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

from qc import events
from qc.handler import Delivery, Handler
from services.checks.rules.validation import content_hash
from services.notify import bootstrap as notify_bootstrap
from services.notify.delivery.webhooks import Webhooks
from services.notify.stores.knowledge import Knowledge
from tests.conftest import mail_messages, read_topic

# --- builders ---


def validated(site="S0001", region="R01", visited_on="2026-11-10", scores=(3, 1, None), **changes):
    questions = ("listened-to", "feel-safe", "home-clean")
    data = {
        "submission_id": str(uuid.uuid4()),
        "checker_id": "C1",
        "site_id": site,
        "region_id": region,
        "question_set": {"id": "everyday-life", "version": 1},
        "visited_on": visited_on,
        "answers": [
            {"question_id": q, "score": s, "comment": "", "safety": q == "feel-safe"}
            for q, s in zip(questions, scores, strict=True)
        ],
        "working": [],
        "not_working": [],
        "urgent_concern": None,
        "received_at": "2026-11-10T10:00:00.000Z",
        "validated_at": "2026-11-10T10:00:01.000Z",
        "content_hash": "0" * 64,
    }
    data.update(changes)
    return events.make_event(
        "org.qc.submission.validated",
        source="qc/tests",
        subject=data["submission_id"],
        data=data,
        event_id=f"{data['submission_id']}:validated",
    )


def deliveries(*evs):
    return [Delivery(record=None, event=e) for e in evs]


class Recorder(Handler):
    def __init__(self, topic):
        self.topics = [topic]
        self.seen = []

    def handle(self, batch):
        for d in batch:
            if d.event["subject"] == "explode":
                raise ValueError("cannot handle this one")
            self.seen.append(d.event["id"])


def notify_handler(db, settings, publisher, smtp_url=None, hooks=(), with_scheduler=False):
    tag = settings.mongo_db
    knowledge = Knowledge(db)
    knowledge.ensure_indexes()
    knowledge.apply_directory(
        {"entity": "site", "id": "S0001", "name": "Elm Court", "region_id": "R01", "active": True}
    )
    people = (
        ("SM1", "site_manager", {"site_id": "S0001", "region_id": "R01"}),
        ("RM1", "regional_manager", {"region_id": "R01"}),
        ("SG1", "safeguarding_lead", {}),
    )
    for pid, role, extra in people:
        knowledge.apply_directory(
            {
                "entity": "person",
                "id": pid,
                "name": pid,
                "role": role,
                "active": True,
                "email": f"{pid.lower()}-{tag}@test",
                "username": pid.lower(),
                **extra,
            }
        )
    own = settings.replace(
        smtp_url=smtp_url or settings.smtp_url, notify_public_url="http://notify", smtp_timeout_seconds=5
    )
    return notify_bootstrap.worker_handler(
        own, db, publisher, webhooks=Webhooks(db, list(hooks)), scheduled=with_scheduler, sending_thread=False
    )


def my_mail(stack, settings):
    return [m for m in mail_messages(stack) if settings.mongo_db in m["To"]]


def received(site_id="S0001", comment="", **changes) -> dict:
    data = {
        "submission_id": str(uuid.uuid4()),
        "checker_id": "C1",
        "site_id": site_id,
        "question_set": {"id": "everyday-life", "version": 1},
        "visited_on": dt.date.today().isoformat(),
        "answers": [{"question_id": "feel-safe", "score": 3, "comment": comment}],
        "working": [],
        "not_working": [],
        "urgent_concern": None,
        "received_at": events.isoformat(events.now()),
        **changes,
    }
    data["content_hash"] = content_hash(data)
    return events.make_event(
        "org.qc.submission.received",
        source="qc/tests",
        subject=data["submission_id"],
        data=data,
        event_id=data["submission_id"],
        correlation_id=str(uuid.uuid4()),
    )


def copy_of(event: dict) -> dict:
    """The same check sent again under a new submission_id."""
    copy = {**event, "data": {**event["data"], "submission_id": str(uuid.uuid4())}}
    copy["id"] = copy["subject"] = copy["data"]["submission_id"]
    return copy


def handle_received(handler, publisher, *batch):
    for event in batch:
        events.validate(event, schemas_dir=handler.settings.schemas_dir)
    handler.handle([Delivery(record=None, event=e) for e in batch])
    publisher.flush()


def published_decisions(settings, topic: str, ids: set[str]) -> dict[str, list[dict]]:
    """The decision events on ``topic`` for these submissions, once every one of them is there."""
    found = read_topic(settings, topic, lambda evs: ids <= {e["data"]["submission_id"] for e in evs})
    out: dict[str, list[dict]] = {}
    for e in found:
        if e["data"]["submission_id"] in ids:
            out.setdefault(e["data"]["submission_id"], []).append(e)
    return out


def intake_body(**changes):
    body = {
        "submission_id": str(uuid.uuid4()),
        "site_id": "S0001",
        "question_set": {"id": "everyday-life", "version": 1},
        "visited_on": dt.date.today().isoformat(),
        "answers": [{"question_id": "feel-safe", "score": 3, "comment": ""}],
    }
    body.update(changes)
    return body


ROLLUP_QUESTIONS = ("listened-to", "respect")


SHY_CHECKER = "chk-shy-91c4"


def validated_check(site, region, visited_on, scores=(3, 2), checker=SHY_CHECKER, comments=("", ""), **extra):
    """One validated submission; consent fields only where given (missing means the defaults)."""
    shares = extra.pop("shares", None)
    answers = []
    for i, (question, score) in enumerate(zip(ROLLUP_QUESTIONS, scores, strict=True)):
        answer = {"question_id": question, "score": score, "comment": comments[i], "safety": False}
        if shares:
            answer["share"] = shares[i]
        answers.append(answer)
    data = {
        "submission_id": str(uuid.uuid4()),
        "checker_id": checker,
        "site_id": site,
        "region_id": region,
        "question_set": {"id": "everyday-life", "version": 1},
        "visited_on": visited_on,
        "answers": answers,
        "working": [],
        "not_working": [],
        "urgent_concern": None,
        "received_at": "2026-11-20T10:00:00.000Z",
        "validated_at": "2026-11-20T10:00:01.000Z",
        "content_hash": "0" * 64,
        **extra,
    }
    return events.make_event("org.qc.submission.validated", source="t", subject=data["submission_id"], data=data)


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.content_type == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8"))))
