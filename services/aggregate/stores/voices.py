"""The key questions as answered by anyone supported at a site, not only its checker (``kind: voice``).

People supported at a site answer the monthly key questions (deploy/team-feedback.yaml) through the site's
own link or the QR code on its board, anonymously, with or without a supporter. They are not quality
checks: nothing here goes into a roll-up, a score, coverage or themes. Each answer is kept as one entry
(keyed by its submission id, so a redelivery counts once) holding only the site, the month and the scores
of the key questions: staff team feedback adds them to the checkers' answers, each entry one person, and
the same minimum group size withholds a month's figures when too few people answered
(team_feedback.py). A person answering twice in a month counts twice: the link is rate-limited per site.
"""

from __future__ import annotations

import datetime as dt

from pymongo import ASCENDING
from pymongo.database import Database

from qc import periods
from qc.mongo import write_unordered

BANDS = {1: "not_good", 2: "ok", 3: "good"}


class Voices:
    """The ``agg_voices`` collection: one entry per answer given through a site's link."""

    def __init__(self, db: Database):
        self.collection = db["agg_voices"]

    def ensure_indexes(self) -> None:
        """A site's months, for its team feedback."""
        self.collection.create_index([("site_id", ASCENDING), ("month", ASCENDING)])

    def record(self, validated: list[dict]) -> None:
        """Keep each voice's scores (a redelivered one is kept once: its submission id is the key)."""
        docs = [
            {
                "_id": data["submission_id"],
                "site_id": data["site_id"],
                "month": periods.periods_of(dt.date.fromisoformat(data["visited_on"]))["month"],
                "scores": {a["question_id"]: a["score"] for a in data["answers"] if a["score"] is not None},
            }
            for data in validated
        ]
        write_unordered(self.collection, docs)

    def tally(self, site_id: str, months: list[str]) -> dict[tuple[str, str], dict]:
        """{(month, question_id): {"good": n, "ok": n, "not_good": n, "people": n}} for a site."""
        query = {"site_id": site_id, "month": {"$gte": min(months), "$lte": max(months)}}
        out: dict[tuple[str, str], dict] = {}
        for doc in self.collection.find(query, {"month": 1, "scores": 1}):
            for question_id, score in doc["scores"].items():
                cell = out.setdefault((doc["month"], question_id), {"good": 0, "ok": 0, "not_good": 0, "people": 0})
                cell[BANDS[score]] += 1
                cell["people"] += 1
        return out
