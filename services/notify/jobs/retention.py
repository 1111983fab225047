"""notify's retention: closed old alerts lose the checkers' words and who they were; so do old rejections.

An alert still open or acknowledged is left alone, however old: someone is
still acting on it. A closed one keeps its rule, site, period, submission
ids, summary (written by the rules, not by a checker), history and the
managers' response; it loses the urgent concern's text, the checker ids and
each voice's comment and name. Supporters' "you said, we did" e-mail records
(addressed to a checker's supporter, keyed by the checker) are deleted.
"""

from __future__ import annotations

import datetime as dt

from pymongo import ASCENDING
from pymongo.database import Database

from qc import events, retention
from qc.settings import Settings
from services.notify.stores.alerts import OPEN_STATUSES

SERVICE = "notify"


def run(db: Database, settings: Settings, *, now: dt.datetime | None = None, dry_run: bool = False) -> dict[str, int]:
    """Anonymise what is older than ``QC_RETENTION_DAYS``; {what: how many}; nothing when retention is off."""
    limit = retention.cutoff(settings, now)
    if limit is None:
        return {}
    old_alerts = {
        "raised_at": {"$lt": limit},
        "status": {"$nin": list(OPEN_STATUSES)},
        "anonymised_at": {"$exists": False},
    }
    old_rejections = {"rejected_at": {"$lt": limit}, "checker_id": {"$ne": None}}
    old_notes = {"purpose": "response", "created_at": {"$lt": limit}, "status": {"$ne": "pending"}}
    if dry_run:
        counts = {
            "alerts_anonymised": db["alerts"].count_documents(old_alerts),
            "rejections_anonymised": db["notify_rejections"].count_documents(old_rejections),
            "supporter_notes_deleted": db["deliveries"].count_documents(old_notes),
        }
    else:
        ensure_indexes(db)
        counts = {
            "alerts_anonymised": _anonymise_alerts(db, old_alerts),
            "rejections_anonymised": db["notify_rejections"]
            .update_many(old_rejections, {"$set": {"checker_id": None}})
            .modified_count,
            "supporter_notes_deleted": db["deliveries"].delete_many(old_notes).deleted_count,
        }
    retention.record(db, SERVICE, limit, counts, dry_run)
    return counts


def _anonymise_alerts(db: Database, query: dict) -> int:
    """One update per alert (the voices are rewritten here rather than with array operators)."""
    alerts, done = db["alerts"], 0
    for alert in list(alerts.find(query, {"voices": 1})):
        voices = [{**v, "checker_id": None, "comment": "", "named": False} for v in alert.get("voices", [])]
        result = alerts.update_one(
            {"_id": alert["_id"], **query},  # still closed and not yet done
            {
                "$set": {"checker_id": None, "checker_ids": [], "voices": voices, "anonymised_at": events.now()},
                "$unset": {"details.urgent_concern": "", "details.more_concerns": ""},
            },
        )
        done += result.modified_count
    return done


def ensure_indexes(db: Database) -> None:
    """What a run looks old records up by (without them it would read whole collections every day)."""
    db["alerts"].create_index([("raised_at", ASCENDING)])
    db["notify_rejections"].create_index([("rejected_at", ASCENDING)])
    db["deliveries"].create_index([("purpose", ASCENDING), ("created_at", ASCENDING)])


def job(settings: Settings, db: Database) -> retention.Periodic:
    """The worker's daily run."""
    return retention.Periodic(settings, db, SERVICE, run)
