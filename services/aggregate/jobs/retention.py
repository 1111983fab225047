"""aggregate's retention: old facts lose their free text and the named checker; the counts stay.

Roll-ups are recomputed from the facts' scores, consent split, periods and
times (handlers.site_rollup), none of which changes here, so every roll-up
figure stays the same, now and after any later recompute. A checker's answer
to "is it better now?" is filed under an id that names them; it is filed again
under an id that does not (same answer, site and periods, so the same counts).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from qc import events, retention
from qc.settings import Settings

SERVICE = "aggregate"


def run(db: Database, settings: Settings, *, now: dt.datetime | None = None, dry_run: bool = False) -> dict[str, int]:
    """Anonymise what is older than ``QC_RETENTION_DAYS``; {what: how many}; nothing when retention is off."""
    limit = retention.cutoff(settings, now)
    if limit is None:
        return {}
    old_facts = {"received_at": {"$lt": events.isoformat(limit)}, "anonymised_at": {"$exists": False}}
    old_feedback = {"at": {"$lt": limit}, "anonymised_at": {"$exists": False}}
    if dry_run:
        counts = {
            "facts_anonymised": db["agg_facts"].count_documents(old_facts),
            "feedback_anonymised": db["agg_feedback"].count_documents(old_feedback),
        }
    else:
        ensure_indexes(db)
        changed = db["agg_facts"].update_many(
            old_facts,
            {
                "$set": {"comments": {}, "working": [], "not_working": [], "anonymised_at": events.now()},
                "$unset": {"named_checker_id": ""},
            },
        )
        counts = {
            "facts_anonymised": changed.modified_count,
            "feedback_anonymised": _anonymise_feedback(db, settings, old_feedback),
        }
    retention.record(db, SERVICE, limit, counts, dry_run)
    return counts


def _anonymise_feedback(db: Database, settings: Settings, query: dict) -> int:
    """Re-file each old answer under an id without the checker's; returns how many."""
    collection, done = db["agg_feedback"], 0
    for doc in list(collection.find(query)):
        alert_id = doc["_id"].rsplit(":", 1)[0]  # the id is "<alert id>:<checker id>"
        # Keyed (not random), so a run stopped between the insert and the delete
        # is finished by the next one instead of counting the answer twice.
        digest = hmac.new(settings.secret_key.encode(), f"qc.retention.v1:{doc['_id']}".encode(), hashlib.sha256)
        anonymous = {**doc, "_id": f"{alert_id}:anonymous-{digest.hexdigest()[:24]}", "anonymised_at": events.now()}
        try:
            collection.insert_one(anonymous)
        except DuplicateKeyError:
            pass  # re-filed by a run that stopped before deleting the original
        collection.delete_one({"_id": doc["_id"]})
        done += 1
    return done


def ensure_indexes(db: Database) -> None:
    """What a run looks old records up by (without them it would read whole collections every day)."""
    db["agg_facts"].create_index([("received_at", ASCENDING)])
    db["agg_feedback"].create_index([("at", ASCENDING)])


def job(settings: Settings, db: Database) -> retention.Periodic:
    """The worker's daily run."""
    return retention.Periodic(settings, db, SERVICE, run)
