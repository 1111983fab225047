"""Deterministic test data: intake bodies, and a year of weekly checks as ``received`` events."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid

from qc import events
from qc_tools.demo_checks import NOT_WORKING, QUESTIONS, WORKING
from services.checks.rules.validation import content_hash

WEEKS = 52


def _answers(rng: random.Random, leaning: float) -> list[dict]:
    answers = []
    for question in QUESTIONS:
        roll = rng.random() + leaning * 0.5
        score = None if roll < 0.05 else 1 if roll < 0.25 else 2 if roll < 0.55 else 3
        answers.append({"question_id": question, "score": score, "comment": ""})
    return answers


def body(rng: random.Random, site_id: str, visited_on: dt.date, urgent: bool) -> dict:
    """One intake request body (the API's shape) with a random but plausible check."""
    leaning = random.Random(site_id).uniform(-0.6, 0.6)
    return {
        "submission_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "site_id": site_id,
        "question_set": {"id": "everyday-life", "version": 1},
        "visited_on": visited_on.isoformat(),
        "answers": _answers(rng, leaning),
        "working": rng.sample(WORKING, rng.randint(0, 2)),
        "not_working": rng.sample(NOT_WORKING, rng.randint(0, 2)),
        "urgent_concern": "I am worried about something at night." if urgent else None,
    }


def wrk_template(today: dt.date) -> str:
    """An intake body with ``%s`` for the submission id and the site (filled in by bench/intake.lua)."""
    rng = random.Random(8)
    sample = body(rng, "@SITE@", today, urgent=False)
    sample["submission_id"] = "@ID@"
    return json.dumps(sample).replace("%", "%%").replace("@ID@", "%s").replace("@SITE@", "%s")


def site_address(site_id: str) -> str:
    """The address a site's checks come from (its wifi), for X-Forwarded-For: one per care home."""
    n = int(site_id.lstrip("S"))
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def wrk_credentials(credentials: dict) -> str:
    """``token site_id address`` per line, for bench/intake.lua."""
    return "".join(f"{c['token']} {c['site_id']} {site_address(c['site_id'])}\n" for c in credentials["checkers"])


def e2e_requests(credentials: dict, count: int, today: dt.date, urgent_share: float, seed: int = 100) -> list[dict]:
    """{token, address, body} in sending order: every site once per round, each round a week earlier.

    So each request is the only one for its (site, ISO week), and the first
    ``rollup.updated`` for that site and week after its 202 is its roll-up.
    """
    rng = random.Random(seed)
    checkers = sorted(credentials["checkers"], key=lambda c: c["site_id"])
    out = []
    for i in range(count):
        checker = checkers[i % len(checkers)]
        visited = today - dt.timedelta(days=7 * (i // len(checkers)))
        site_id = checker["site_id"]
        check = body(rng, site_id, visited, rng.random() < urgent_share)
        out.append({"token": checker["token"], "address": site_address(site_id), "body": check})
    return out


def year_of_checks(checkers: list[dict], count: int, today: dt.date, seed: int = 2026):
    """The first ``count`` of 52 weeks × every site, week by week, as encoded ``received`` events.

    Yields (key, value) pairs; every event passes the validator (known checker
    at its own site, known questions, a visit within the bench's window).
    """
    rng = random.Random(seed)
    checkers = sorted(checkers, key=lambda c: c["site_id"])
    received_at = events.isoformat(events.now())
    for i in range(count):
        week, index = divmod(i, len(checkers))
        week, checker = week % WEEKS, checkers[index]
        site_id = checker["site_id"]
        visited = today - dt.timedelta(days=7 * (WEEKS - 1 - week) + i % 5)
        data = body(rng, site_id, visited, urgent=False)
        data.update(checker_id=checker["checker_id"], received_at=received_at)
        data["content_hash"] = content_hash(data)
        event = events.make_event(
            "org.qc.submission.received",
            source="qc/checks/intake",
            subject=data["submission_id"],
            data=data,
            correlation_id=data["submission_id"],
            event_id=data["submission_id"],
        )
        yield site_id.encode(), events.encode(event)
