"""Accepting a check: one validated, idempotent, acks=all path for the API and the form.

The bearer-token API, the no-JavaScript form and the JavaScript form all call
``accept``; ``api.py`` and ``pages.py`` only turn its ``Result`` into HTTP.
``submission_from_draft`` builds the API body from what the form kept.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import time
import uuid
from zoneinfo import ZoneInfo

from marshmallow import ValidationError
from pymongo.errors import ConnectionFailure

from qc import events, logs, sharing
from qc.kafka import PublishError
from qc.settings import TOPICS
from services.checks import metrics as checks_metrics
from services.checks.rules.validation import content_hash
from services.checks.stores.submissions import SENDING
from services.checks.web.schemas import SubmissionSchema, flatten_errors

log = logging.getLogger(__name__)
_submission_schema = SubmissionSchema()

ACCEPTED = "accepted"
REPEAT = "repeat"
INVALID = "invalid"
FORBIDDEN = "forbidden"
CONFLICT = "conflict"
UNAVAILABLE = "unavailable"


@dataclasses.dataclass(frozen=True)
class Result:
    """What became of one attempt to send a check."""

    outcome: str
    submission_id: str | None = None
    errors: list = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the check is safely with the broker (now or from an earlier attempt)."""
        return self.outcome in (ACCEPTED, REPEAT)


_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def accept(ctx, checker: dict, body: dict, correlation_id: str | None = None, voice: bool = False) -> Result:
    """Validate ``body`` for ``checker`` and publish it once, waiting for the broker's acknowledgement.

    ``voice``: the key questions answered through a site's own link (voices.py), as ``kind: voice``."""
    try:
        data = _submission_schema.load(body)
    except ValidationError as e:
        checks_metrics.SUBMISSIONS.labels(INVALID).inc()
        return Result(INVALID, errors=flatten_errors(e.messages))
    if data["site_id"] != checker["site_id"]:
        checks_metrics.SUBMISSIONS.labels(FORBIDDEN).inc()
        return Result(FORBIDDEN)

    received = _received(data, checker["checker_id"], voice)
    settings = ctx.settings
    date_error = visit_date_error(data["visited_on"], today(settings.timezone), settings.visit_window_days)
    if date_error is not None:
        # A phone retrying a check we already have (sent before the date went out of range) gets the first answer.
        existing = ctx.submissions.get(received["submission_id"])
        if existing is not None and existing["status"] != SENDING:
            return _repeat(existing, received)
        checks_metrics.SUBMISSIONS.labels(INVALID).inc()
        return Result(INVALID, errors=[{"field": "visited_on", "message": date_error}])
    # A client's X-Correlation-ID travels into events and logs: only a short, plain one is kept.
    if not correlation_id or not _CORRELATION_ID.fullmatch(correlation_id):
        correlation_id = str(uuid.uuid4())
    event = events.make_event(
        "org.qc.submission.received",
        source="qc/checks/intake",
        subject=received["submission_id"],
        data=received,
        correlation_id=correlation_id,
        event_id=received["submission_id"],
    )
    try:
        # Claimed, the event is kept: if the broker later loses its log, it is published again (outbox.py).
        claim, existing = _claim_or_existing(ctx, received, event)
    except (StillSending, ConnectionFailure):
        # Database down: nothing is claimed or published, so a 503 loses nothing and the phone tries again.
        checks_metrics.SUBMISSIONS.labels(UNAVAILABLE).inc()
        return Result(UNAVAILABLE, received["submission_id"])
    if existing is not None:
        return _repeat(existing, received)

    with logs.correlation(correlation_id):
        try:
            ctx.publisher.publish_sync(TOPICS["received"], received["site_id"], event)
        except PublishError:
            log.exception(
                "submission not accepted: broker unavailable", extra={"submission_id": received["submission_id"]}
            )
            return _unavailable(ctx, received["submission_id"])
        # Written with the others held in a moment, off the request path (acks.py).
        ctx.submissions.mark_accepted(claim)
        log.info(
            "submission accepted", extra={"submission_id": received["submission_id"], "site_id": received["site_id"]}
        )
    checks_metrics.SUBMISSIONS.labels(ACCEPTED).inc()
    return Result(ACCEPTED, received["submission_id"])


def _unavailable(ctx, submission_id: str) -> Result:
    """A check not sent: its claim given up, so the phone's next try (it is told to try again) makes it anew."""
    checks_metrics.SUBMISSIONS.labels(UNAVAILABLE).inc()
    try:
        ctx.submissions.release(submission_id)
    except ConnectionFailure:
        pass  # the claim goes stale and a retry takes it over (Submissions.claim)
    return Result(UNAVAILABLE, submission_id)


def _received(data: dict, checker_id: str, voice: bool = False) -> dict:
    received = {
        "submission_id": str(data["submission_id"]),
        "checker_id": checker_id,
        "site_id": data["site_id"],
        "question_set": data["question_set"],
        "visited_on": data["visited_on"].isoformat(),
        "answers": data["answers"],
        "working": data["working"],
        "not_working": data["not_working"],
        "urgent_concern": data["urgent_concern"] or None,
        # Always filled in (the schema applies the safe defaults), so consumers never guess.
        "answered_by": data["answered_by"],
        "texts_share": data["texts_share"],
        "urgent_concern_share": data["urgent_concern_share"],
        "received_at": events.isoformat(events.now()),
    }
    if data["kind"] == events.WORRY_ALONE:  # written only when not a check, so a check's event is as it always was
        received["kind"] = events.WORRY_ALONE
    elif voice:
        received["kind"] = events.VOICE
    received["content_hash"] = content_hash(received)
    return received


def today(timezone: str) -> dt.date:
    """Today where the service is (the validator uses the same day)."""
    return dt.datetime.now(ZoneInfo(timezone)).date()


def visit_date_error(visited: dt.date, today: dt.date, window_days: int) -> str | None:
    """Why a visit date cannot be right (plain words), or None: never in the future, never too long ago."""
    if visited > today:
        return "The day you visited cannot be in the future. Choose today or a day before."
    if (today - visited).days > window_days:
        return f"The visit was more than {window_days} days ago. Send a check within {window_days} days of the visit."
    return None


class StillSending(Exception):
    """Another request for the same submission is still waiting for the broker."""


def _claim_or_existing(ctx, received: dict, event: dict) -> tuple[dict | None, dict | None]:
    """(the claim, None) when this request now holds it and must publish; else (None, the record to answer from).

    A simultaneous identical request waits (up to the broker's acknowledgement
    time) for the holder's outcome, so it never says 202 for a check whose
    publish then fails, and never publishes a second event.
    """
    timeout = ctx.settings.kafka_ack_timeout_seconds
    deadline = time.monotonic() + 2 * timeout + 1
    while True:
        claim = ctx.submissions.claim(received, event, event["correlationid"], stale_after=2 * timeout)
        if claim is not None:
            return claim, None
        existing = ctx.submissions.get(received["submission_id"])
        if existing is not None and existing["status"] != SENDING:
            return None, existing
        if existing is not None and (existing["content_hash"], existing["checker_id"]) != (
            received["content_hash"],
            received["checker_id"],
        ):
            return None, existing  # a different check under the same id: a conflict, whatever its state
        if time.monotonic() > deadline:
            raise StillSending(received["submission_id"])
        time.sleep(0.05)  # the holder is waiting for the broker; poll its outcome


def _repeat(existing: dict, received: dict) -> Result:
    """Same id again: the same answer for the same check, a conflict for a different one."""
    if existing["content_hash"] != received["content_hash"] or existing["checker_id"] != received["checker_id"]:
        checks_metrics.SUBMISSIONS.labels(CONFLICT).inc()
        return Result(CONFLICT, received["submission_id"])
    checks_metrics.SUBMISSIONS.labels(REPEAT).inc()
    return Result(REPEAT, existing["_id"])


def submission_from_draft(draft: dict, question_set: dict, today: dt.date) -> dict:
    """The intake body for a form draft: every question once, unanswered ones as skipped (null).

    The visit is the day the checker chose, or ``today`` when they did not
    say; sharing is what they chose for the whole check (``name_share``; a
    draft older than that choice kept one per answer), or the safe defaults.
    """
    answers = []
    chosen = draft.get("name_share")
    for question in question_set["questions"]:
        given = draft.get("answers", {}).get(question["id"], {})
        comment = (given.get("comment") or "").strip()
        share = sharing.share_of(chosen or given.get("share"))
        answers.append({"question_id": question["id"], "score": given.get("score"), "comment": comment, "share": share})
    return {
        "submission_id": draft["_id"],
        "site_id": draft["site_id"],
        "question_set": {"id": question_set["id"], "version": int(question_set["version"])},
        "visited_on": draft.get("visited_on") or today.isoformat(),
        "answers": answers,
        "working": list(draft.get("working", [])),
        "not_working": list(draft.get("not_working", [])),
        "urgent_concern": (draft.get("urgent_concern") or "").strip() or None,
        "answered_by": draft.get("answered_by") or sharing.DEFAULT_ANSWERED_BY,
        "texts_share": sharing.share_of(chosen or draft.get("texts_share")),
        "urgent_concern_share": draft.get("urgent_concern_share") or sharing.DEFAULT_SHARE,
    }
