"""Generated checks for demonstrations and load: plausible, deterministic, sent through the real intake API."""

from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

QUESTIONS = ("listened-to", "feel-safe", "home-clean", "choose-day", "respect", "know-complain", "see-people")
# everyday-life v2 adds "How sure are you that things will get better?" (kind "confidence"). Off unless asked:
# the roll-up recounts in the e2e tests count every answer as a quality answer, and v1 is still accepted.
CONFIDENCE = "things-will-get-better"
WORKING = (
    "The food is lovely",
    "Staff are kind",
    "We go on trips",
    "My room is nice and clean",
    "I see my family",
    "I choose my own clothes",
    "The garden is lovely",
    "We have a music club",
    "Staff listen to me",
)
NOT_WORKING = (
    "The heating is broken",
    "Night staff are rude",
    "Not enough to do, I am bored",
    "The bus never comes",
    "The kitchen is dirty",
    "Staff change all the time",
    "I cannot see my friends",
    "Dinner is cold",
)


def generate(
    credentials: dict, count: int, seed: int, today: dt.date, *, confidence: bool = False
) -> list[tuple[str, dict]]:
    """(checker token, body) pairs; each site has its own leaning so regions differ.

    With ``confidence`` the checks answer everyday-life v2, confidence included; without, v1.
    """
    rng = random.Random(seed)
    checkers = credentials["checkers"]
    out = []
    for _ in range(count):
        checker = rng.choice(checkers)
        leaning = random.Random(checker["site_id"]).uniform(-0.6, 0.6)
        answers = []
        for question in QUESTIONS:
            roll = rng.random() + leaning * 0.5
            score = None if roll < 0.05 else 1 if roll < 0.25 else 2 if roll < 0.55 else 3
            answers.append({"question_id": question, "score": score, "comment": ""})
        if confidence:
            # Sureness follows the site's leaning and drifts up for recent visits, so a trend shows.
            visited_days_ago = rng.randint(0, 60)
            roll = rng.random() + leaning * 0.4 + (60 - visited_days_ago) / 300
            score = None if roll < 0.05 else 1 if roll < 0.35 else 2 if roll < 0.7 else 3
            answers.append({"question_id": CONFIDENCE, "score": score, "comment": ""})
        body = {
            "submission_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "site_id": checker["site_id"],
            "question_set": {"id": "everyday-life", "version": 2 if confidence else 1},
            "visited_on": (
                today - dt.timedelta(days=visited_days_ago if confidence else rng.randint(0, 60))
            ).isoformat(),
            "answers": answers,
            "working": rng.sample(WORKING, rng.randint(0, 2)),
            "not_working": rng.sample(NOT_WORKING, rng.randint(0, 2)),
            "urgent_concern": "I am worried about something at night." if rng.random() < 0.003 else None,
        }
        out.append((checker["token"], body))
    return out


def send_demo_checks(
    base_url: str, credentials: dict, count: int, seed: int = 1, threads: int = 8, *, confidence: bool = False
) -> dict:
    """POST ``count`` generated checks; returns how many were accepted and how many failed."""
    local = threading.local()
    url = f"{base_url.rstrip('/')}/api/v1/submissions"

    def send(item):
        token, body = item
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        response = session.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        return response.status_code == 202

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(send, generate(credentials, count, seed, dt.date.today(), confidence=confidence)))
    return {"sent": len(results), "accepted": sum(results), "failed": len(results) - sum(results)}
