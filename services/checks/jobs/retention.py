"""checks' retention: old submission records lose the checker's identity; old form drafts are deleted.

The ``submissions`` record holds no free text, only whose check it was (and a
hash of its content, which could confirm a guess at what was written), so
those go. A draft is the no-JavaScript form's working copy, full of free text;
once it is older than the cut-off the check it became lives on in the events
and the other services' stores, so the draft itself is deleted. So is an event
the outbox still keeps from before the cut-off (outbox.py): normally it is
gone within minutes, never past retention.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from pymongo import ASCENDING
from pymongo.database import Database

from qc import events, retention
from qc.mongo import IN_LIST_MAX, find_in
from qc.settings import Settings
from services.checks.stores import acks, outbox
from services.checks.stores.contributions import COUNTED, Contributions
from services.checks.stores.submissions import settled

SERVICE = "checks"


def run(db: Database, settings: Settings, *, now: dt.datetime | None = None, dry_run: bool = False) -> dict[str, int]:
    """Anonymise what is older than ``QC_RETENTION_DAYS``; {what: how many}; nothing when retention is off."""
    limit = retention.cutoff(settings, now)
    if limit is None:
        return {}
    # received_at is stored as the event's RFC 3339 text, which sorts as time does.
    old_submissions = {"received_at": {"$lt": events.isoformat(limit)}, "anonymised_at": {"$exists": False}}
    old_drafts = {"updated_at": {"$lt": limit}}
    # Events the outbox still keeps from before the cut-off (a consumer group stuck for the whole period).
    old_kept = sum(db[n].count_documents({}) for n in outbox.ended_before(db, outbox.bucket_of(limit), outbox.EVENTS))
    if dry_run:
        counts = {
            "submissions_anonymised": sum(1 for _record in _old_records(db, old_submissions)),
            "drafts_deleted": db["drafts"].count_documents(old_drafts),
            "kept_events_deleted": old_kept,
        }
    else:
        ensure_indexes(db)
        anonymised = _anonymise_submissions(db, old_submissions)
        deleted = db["drafts"].delete_many(old_drafts)
        outbox.drop_before(db, outbox.bucket_of(limit))
        counts = {"submissions_anonymised": anonymised, "drafts_deleted": deleted.deleted_count}
        counts["kept_events_deleted"] = old_kept
    retention.record(db, SERVICE, limit, counts, dry_run)
    return counts


def _anonymise_submissions(db: Database, query: dict) -> int:
    """Take the checker off each old record, first adding it to their lasting tally of checks done.

    The checker's record of their contribution (contributions.py) must not
    shrink when their old checks are anonymised. One record at a time: each is
    claimed (anonymised) first and then counted, so a crash in between loses
    at most that one check from the tally and never counts one twice.
    """
    done = 0
    for claimed in _old_records(db, query):
        # Claimed with a conditional write (not find_one_and_update, which the embedded database
        # serves with a scan of every submission: qc.mongo.update_and_read); a record another run
        # claimed in between does not match the write and is skipped here.
        taken = db["submissions"].update_one(
            {"_id": claimed["_id"], "checker_id": claimed.get("checker_id"), "anonymised_at": {"$exists": False}},
            {
                "$set": {"checker_id": None, "anonymised_at": events.now()},
                # Records from before the outbox had collections of its own may still keep their event.
                "$unset": {"content_hash": "", "correlation_id": "", "event": "", "outbox": ""},
            },
        )
        if not taken.matched_count:
            continue
        done += 1
        if claimed.get("checker_id") and claimed.get("status") in COUNTED and claimed.get("kind") != events.WORRY_ALONE:
            Contributions(db).tally_anonymised(claimed["checker_id"], claimed["visited_on"])
    return done


def _old_records(db: Database, query: dict) -> Iterator[dict]:
    """The records ``query`` finds, a hundred at a time, each with its decision; none still being sent.

    A record still "sending" (not yet with the broker, or its acknowledgement not written) is intake's.
    """
    ids = [d["_id"] for d in db["submissions"].find(query, {"_id": 1})]
    fields = {"checker_id": 1, "status": 1, "visited_on": 1, "kind": 1, "claimed_at": 1, "decided_at": 1}
    for start in range(0, len(ids), IN_LIST_MAX):
        found = list(find_in(db["submissions"], "_id", ids[start : start + IN_LIST_MAX], projection=fields))
        yield from (r for r in settled(db, found) if r["status"] != acks.SENDING)


def ensure_indexes(db: Database) -> None:
    """What a run looks old records up by (without them it would read whole collections every day)."""
    db["submissions"].create_index([("received_at", ASCENDING)])
    db["drafts"].create_index([("updated_at", ASCENDING)])


def job(settings: Settings, db: Database) -> retention.Periodic:
    """The worker's daily run."""
    return retention.Periodic(settings, db, SERVICE, run)
