"""checks' record of every submission: claimed by intake before its event is sent, then validated or rejected.

The validator's decision goes into a collection of its own (decisions.py);
where nobody claimed the check (a replay of the log) it inserts the record
with its decision in it. Each writer sets only the fields it owns. The
event itself is kept by the outbox (outbox.py) and the broker's
acknowledgement by acks.py, both beside the records; readers see a record
with all of them laid over it (``settle``)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import ConnectionFailure, PyMongoError

from qc import events, themes
from qc.mongo import GroupInsert, find_in, update_and_read, write_unordered
from services.checks.rules.shown_back import shown_back
from services.checks.stores import acks, decisions
from services.checks.stores.acks import ACCEPTED, MARK_EVERY_SECONDS, SENDING, Acks
from services.checks.stores.outbox import Outbox

__all__ = ["ACCEPTED", "SENDING", "Submissions"]

# Fields copied from the received event; either writer may create the record.
_INTAKE_FIELDS = (
    "checker_id",
    "site_id",
    "question_set",
    "visited_on",
    "content_hash",
    "received_at",
)


class Submissions:
    """The ``submissions`` collection, keyed by the client's submission_id."""

    def __init__(
        self,
        db: Database,
        mark_every: float = MARK_EVERY_SECONDS,
        themes_path: Path | None = None,
        text_secret: str | None = None,
    ):
        self.collection = db["submissions"]
        # Themes of what checks say is not working, and their texts' keys (shown_back below).
        self.themes = themes.load_themes(themes_path) if themes_path else None
        self.text_secret = text_secret
        self._claims = GroupInsert(db.client)  # a check's record and kept event, inserted together
        self.outbox = Outbox(db)
        self.acks = Acks(db, mark_every)
        self.decisions = decisions.Decisions(db)
        self.mark_every = mark_every

    def ensure_indexes(self) -> None:
        """Indexes for the duplicate rule and a checker's list."""
        self.collection.create_index([("checker_id", ASCENDING), ("site_id", ASCENDING), ("visited_on", ASCENDING)])
        # The validator asks for a poll's possible duplicates in one content_hash $in query;
        # without this index SecantusDB answers it by scanning the collection (docs/benchmarks.md).
        self.collection.create_index([("content_hash", ASCENDING)])

    def get(self, submission_id: str) -> dict | None:
        """One submission's record, or None (accepted here and not yet written: read as accepted)."""
        doc = self.collection.find_one({"_id": submission_id}, {"event": 0})
        return None if doc is None else self.settle([doc])[0]

    def settled(self, submission_id: str) -> dict | None:
        """Like ``get``, but a record still "sending" is given the time its mark may take to be written.

        Another process may have had the broker's acknowledgement already and not
        yet written it (acks.py): waiting that long, polling,
        answers from the record as it settles rather than "not accepted yet".
        """
        deadline = time.monotonic() + self.mark_every + 0.5
        doc = self.get(submission_id)
        while doc is not None and doc["status"] == SENDING and time.monotonic() < deadline:
            time.sleep(0.05)
            doc = self.get(submission_id)
        return doc

    def claim(self, received: dict, event: dict, correlation_id: str, stale_after: float) -> dict | None:
        """Claim a new submission_id before publishing its ``event``; None if someone else holds it.

        The unique ``_id`` makes one of several simultaneous identical POSTs the
        publisher; the others wait for its outcome. A claim left by a process
        that died while publishing (neither acknowledged nor decided after
        ``stale_after`` seconds) goes stale and may be taken over. Once claimed,
        the outbox keeps the event until the whole pipeline has read it
        (outbox.py): the record and the event are inserted in one round trip,
        shared with the requests in flight.
        """
        now = events.now()
        doc = {f: received[f] for f in _INTAKE_FIELDS}
        doc.update(
            _id=received["submission_id"],
            **shown_back(received, self.themes, self.text_secret),
            status=SENDING,
            claimed_at=now,
            reasons=[],
            responses=[],
            correlation_id=correlation_id,
        )
        kept = self.outbox.to_keep(doc["_id"], doc["site_id"], now, event)
        try:
            # The record and the event it keeps in one round trip, with the other requests' in flight here.
            claimed, event_kept = self._claims.insert((self.collection, doc), kept)
        except ConnectionFailure:
            raise  # unreachable: a record that went in goes stale and the phone's retry takes it over
        except PyMongoError:
            self.release(doc["_id"], now)  # if the record went in, it is this request's: nothing is kept for it
            raise
        if claimed:
            if not event_kept:  # an earlier claim of this id in these ten minutes (released) left its event
                self._keep(doc, event)
            return doc
        # Held already: an event this request put beside it is never published (Outbox.kept_since: its claimed_at
        # is not the record's). The record says "sending" for ever (acknowledgements and decisions are kept beside
        # it): whether the claim is still only that is read with them, and it is taken over only if so and stale.
        held = self.get(received["submission_id"])
        if held is None or held["status"] != SENDING or held["claimed_at"] >= now - dt.timedelta(seconds=stale_after):
            return None
        # Taken over: the record becomes this request's (unless another request took it first).
        doc = update_and_read(
            self.collection,
            {"_id": received["submission_id"], "status": SENDING, "claimed_at": held["claimed_at"]},
            {"$set": {k: v for k, v in doc.items() if k != "_id"}},
        )
        if doc is not None:
            self._keep(doc, event)
        return doc

    def _keep(self, doc: dict, event: dict) -> None:
        """Keep this claim's event in place of an earlier claim's; a claim whose event cannot be kept is released."""
        try:
            self.outbox.keep(doc["_id"], doc["site_id"], doc["claimed_at"], event)
        except PyMongoError:
            self.release(doc["_id"], doc["claimed_at"])  # not kept, so not to be published: a retry claims it anew
            raise

    def release(self, submission_id: str, claimed_at: dt.datetime | None = None) -> None:
        """Give up a claim whose publish failed, so a retry can make it (only the one made at ``claimed_at``)."""
        claim = {} if claimed_at is None else {"claimed_at": claimed_at}
        self.collection.delete_one({"_id": submission_id, "status": SENDING, **claim})

    def mark_accepted(self, claim: dict) -> None:
        """The broker has the check of this claim: "accepted" everywhere within a second, off the request path."""
        self.acks.mark(claim["_id"], claim["claimed_at"])

    def close(self) -> None:
        """Write the acknowledgements held (worker exit)."""
        self.acks.close()

    def settle(self, records: list[dict]) -> list[dict]:
        """Records as readers see them: the validator's decision laid over each (decisions.py), else "accepted"
        for one the broker has (acks.py), else "sending"."""
        return self.acks.settle(decisions.lay_over(self.collection.database, records))

    def record_decision(self, received: dict, status: str, reasons: list, region_id) -> dict:
        """Store the validator's decision once; a repeat returns the first one."""
        return self.record_decisions([(received, status, reasons, region_id)])[received["submission_id"]]

    def records(self, submission_ids: list[str]) -> dict[str, dict]:
        """The records among these, decided or not, by id, as readers see them (a query per hundred, twice)."""
        found = list(find_in(self.collection, "_id", submission_ids, projection={"event": 0}))
        return {d["_id"]: d for d in self.settle(found)}

    def record_decisions(
        self, decided: list[tuple[dict, str, list, str | None]], stored: set[str] | None = None
    ) -> dict[str, dict]:
        """Store a batch of (received, status, reasons, region_id) with unordered inserts; the decisions by id.

        The first decision stands: one that lost a race (its insert hit the
        unique _id of a decision, or of a record decided in it, made
        meanwhile) is read back and returned. ``stored``: the ids known to
        have a record not decided in it (intake's claim); for the others (a
        replay of the log) the record is inserted with its decision in it (one
        insert, not two). None: looked up here.
        """
        now = events.now()
        ids = [received["submission_id"] for received, *_rest in decided]
        records = {
            received["submission_id"]: {
                "_id": received["submission_id"],
                **{"status": status, "reasons": reasons, "region_id": region_id, "decided_at": now},
            }
            for received, status, reasons, region_id in decided
        }
        earlier = self._decided_in_record(ids) if stored is None else {}
        stored = set(earlier) if stored is None else stored
        fresh = [r for r, *_rest in decided if r["submission_id"] not in stored]
        replayed = [_replayed_record(r, records[r["submission_id"]], self.themes, self.text_secret) for r in fresh]
        made_meanwhile = [replayed[i]["_id"] for i in write_unordered(self.collection, replayed)]
        if made_meanwhile:  # claimed meanwhile (decided below), or replayed by another member (decided in it)
            earlier.update(self._decided_in_record(made_meanwhile))
        decided_before = {i: d for i, d in earlier.items() if "decided_at" in d}
        records.update(decided_before)
        decided_in_records = {d["_id"] for d in replayed if d["_id"] not in made_meanwhile} | set(decided_before)
        deciding = [i for i in ids if i not in decided_in_records]
        lost = write_unordered(self.decisions.collection, [records[i] for i in deciding])
        if lost:
            records.update(self.decisions.of([deciding[i] for i in lost]))
        return records

    def _decided_in_record(self, ids: list[str]) -> dict[str, dict]:
        """The records among ``ids``, by id: their decision's fields where it was made in them."""
        fields = {"status": 1, "reasons": 1, "region_id": 1, "decided_at": 1}
        return {d["_id"]: d for d in find_in(self.collection, "_id", ids, projection=fields)}

    def validated_with_content(self, content_hashes: list[str]) -> dict[tuple, list[str]]:
        """Validated submissions with any of these content hashes (one query for a poll, and their decisions).

        Keyed like the duplicate rule, (checker_id, site_id, visited_on,
        content_hash), to the ids stored under that key.
        """
        out: dict[tuple, list[str]] = {}
        if not content_hashes:
            return out
        fields = {"checker_id": 1, "site_id": 1, "visited_on": 1, "content_hash": 1, "status": 1, "decided_at": 1}
        found = list(find_in(self.collection, "content_hash", content_hashes, projection=fields))
        for doc in decisions.lay_over(self.collection.database, found):
            if doc.get("status") == "validated":
                key = (doc["checker_id"], doc["site_id"], doc["visited_on"], doc["content_hash"])
                out.setdefault(key, []).append(doc["_id"])
        return out

    def mark_sent_again(self, submission_id: str, checker_id: str, new_submission_id: str) -> None:
        """A rejected check the checker changed and sent again as ``new_submission_id`` (My checks says so)."""
        record = self.get(submission_id)
        if record is not None and record.get("checker_id") == checker_id and record["status"] == "rejected":
            self.collection.update_one({"_id": submission_id}, {"$set": {"sent_again_as": new_submission_id}})

    def record_feedback(self, submission_id: str, key: str, about_id: str, answer: str, at: str) -> None:
        """Keep the checker's answer to "is it better now?" beside the response it is about (``key``:
        "alert_id" or "action_id")."""
        doc = self.get(submission_id) or {}
        responses = doc.get("responses", [])
        for response in responses:
            if response.get(key) == about_id:
                response["feedback"] = {"answer": answer, "at": at}
        self.collection.update_one({"_id": submission_id}, {"$set": {"responses": responses}})

    def add_response(self, submission_ids: list[str], response: dict, key: str = "alert_id") -> None:
        """Record what managers did about an alert these submissions raised, or an action about what they said
        (``key`` names which); it replaces the earlier word on the same one, keeping a "better now?" answer."""
        if not submission_ids:
            return
        keeping: dict[str, dict] = {}  # the few records whose checker already answered "is it better now?"
        for doc in self.collection.find({"_id": {"$in": submission_ids}}, {"responses": 1}):
            earlier = next((r for r in doc.get("responses", []) if r.get(key) == response[key]), {})
            if "feedback" in earlier and earlier.get("status") == response["status"]:  # the same word again
                keeping[doc["_id"]] = {**response, "feedback": earlier["feedback"]}
        rest = [i for i in submission_ids if i not in keeping]
        self.collection.update_many({"_id": {"$in": submission_ids}}, {"$pull": {"responses": {key: response[key]}}})
        if rest:
            self.collection.update_many({"_id": {"$in": rest}}, {"$push": {"responses": response}})
        for doc_id, kept in keeping.items():
            self.collection.update_one({"_id": doc_id}, {"$push": {"responses": kept}})

    def checks_at(self, checker_ids: list[str], site_ids: list[str], first: str, last: str) -> list[dict]:
        """These checkers' checks of these sites visited between two days (ISO, inclusive), as readers see them."""
        query = {"site_id": {"$in": site_ids}, "visited_on": {"$gte": first, "$lte": last}}
        return self.settle(list(find_in(self.collection, "checker_id", checker_ids, query, {"event": 0})))


def _replayed_record(received: dict, decision: dict, known_themes, text_secret: str | None) -> dict:
    """The record of a check read from the log that intake did not claim (a replay), with its decision."""
    record = {"_id": received["submission_id"], **{f: received[f] for f in _INTAKE_FIELDS}}
    record.update(shown_back(received, known_themes, text_secret))
    return {**record, "responses": [], **decision}


def settled(db: Database, records: list[dict]) -> list[dict]:
    """Records as any process reads them: each one's decision laid over it (decisions.py), else "accepted"
    once its acknowledgement is written (acks.py), else "sending"."""
    return acks.settle(db, decisions.lay_over(db, records))


def decided(db: Database, submission_ids: list[str] | None = None) -> dict[str, dict]:
    """Every decided submission (or those among ``submission_ids``), by id, as readers see it: for operators'
    checks and the tests, which count what the validator decided (a few queries, not for a request path)."""
    records = db["submissions"]
    if submission_ids is None:
        ids = [d["_id"] for d in decisions.Decisions(db).collection.find({}, {"_id": 1})]
        ids += [d["_id"] for d in records.find({"decided_at": {"$exists": True}}, {"_id": 1})]
    else:
        ids = list(submission_ids)
    found = decisions.lay_over(db, list(find_in(records, "_id", ids, projection={"event": 0})))
    return {d["_id"]: d for d in found if "decided_at" in d}
