"""Who answered what, as counts of people: how many different checkers answered a question at a site in a month.

Staff team feedback shows a figure only when enough *different people*
answered (team_feedback.py), and the facts deliberately keep no checker id
(handlers.consent_of). So each validated check also files, under a keyed hash
of (site, month, checker), the questions that checker answered there that
month: a number of people can be counted without naming anyone, and no entry
points at a submission, so none can be joined to an answer or a text.

The key is a random salt kept in the same collection (``_id: "salt"``): the
hashes are only comparable with each other, and should the collection be
lost, salt and hashes go together and are rebuilt together (``qc replay``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections import OrderedDict

from pymongo import ASCENDING, UpdateOne
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from qc import periods
from qc.mongo import write_unordered

SALT_ID = "salt"
# People filed (by key) with the questions known stored for them: a checker's next check in the same
# month mostly answers the same questions, and needs no write at all. About 200 bytes an entry.
FILED_HELD = 10_000


class Answerers:
    """The ``agg_team_answerers`` collection: one entry per site, month and (hashed) checker."""

    def __init__(self, db: Database):
        self.collection = db["agg_team_answerers"]
        self._salt: bytes | None = None
        self._filed: OrderedDict[str, frozenset] = OrderedDict()

    def ensure_indexes(self) -> None:
        """Counting by site and a range of months."""
        self.collection.create_index([("site_id", ASCENDING), ("month", ASCENDING)])

    def _key(self) -> bytes:
        if self._salt is None:
            doc = self.collection.find_one({"_id": SALT_ID})
            if doc is None:
                try:
                    self.collection.insert_one({"_id": SALT_ID, "salt": secrets.token_hex(32)})
                except DuplicateKeyError:
                    pass  # another worker made it first: theirs is the one
                doc = self.collection.find_one({"_id": SALT_ID})
            self._salt = doc["salt"].encode()
        return self._salt

    def record(self, submissions: list[dict]) -> None:
        """File the answered questions of these validated checks (safe to repeat: a set per person)."""
        merged: dict[str, dict] = {}
        for data in submissions:
            answered = {a["question_id"] for a in data["answers"] if a["score"] is not None}
            if not answered or not data.get("checker_id"):
                continue  # nobody to count (the schema requires a checker; hand-made events may lack one)
            month = periods.periods_of(dt.date.fromisoformat(data["visited_on"]))["month"]
            person = f"{data['site_id']}\x00{month}\x00{data['checker_id']}"
            key = hmac.new(self._key(), person.encode(), hashlib.sha256).hexdigest()[:32]
            doc = merged.setdefault(key, {"_id": key, "site_id": data["site_id"], "month": month, "questions": []})
            doc["questions"] = sorted(set(doc["questions"]) | answered)
        docs = [d for key, d in merged.items() if not set(d["questions"]) <= self._filed.get(key, frozenset())]
        if not docs:
            return
        self._write(docs)
        for doc in docs:  # stored now (insert or $addToSet): at least these questions
            self._filed[doc["_id"]] = self._filed.get(doc["_id"], frozenset()) | set(doc["questions"])
            self._filed.move_to_end(doc["_id"])
        while len(self._filed) > FILED_HELD:
            self._filed.popitem(last=False)

    def _write(self, docs: list[dict]) -> None:
        # Mostly new people this month: one insert for the batch; those already filed get their questions added.
        filed = sorted(write_unordered(self.collection, docs))
        updates = [
            UpdateOne({"_id": docs[i]["_id"]}, {"$addToSet": {"questions": {"$each": docs[i]["questions"]}}})
            for i in filed
        ]
        write_unordered(self.collection, updates)

    def checkers(self, site_id: str, months: list[str]) -> dict[str, int]:
        """{month: how many different checkers checked the site} for the months from min to max of ``months``."""
        if not months:
            return {}
        out: dict[str, int] = {}
        query = {"site_id": site_id, "month": {"$gte": min(months), "$lte": max(months)}}
        for doc in self.collection.find(query, {"month": 1}):
            out[doc["month"]] = out.get(doc["month"], 0) + 1
        return out

    def people(self, site_id: str, months: list[str]) -> dict[tuple[str, str], int]:
        """{(month, question_id): how many different checkers answered it} for a site."""
        query = {"site_id": site_id, "month": {"$gte": min(months), "$lte": max(months)}}
        out: dict[tuple[str, str], int] = {}
        for doc in self.collection.find(query, {"month": 1, "questions": 1}):
            for question_id in doc["questions"]:
                out[(doc["month"], question_id)] = out.get((doc["month"], question_id), 0) + 1
        return out
