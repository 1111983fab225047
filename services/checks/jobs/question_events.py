"""Telling aggregate and notify the words of a version of the questions made with checkers.

Each time a version is tried (pilot), published or stopped, ``org.qc.questions.changed`` goes on the
compacted ``qc.questions`` topic, keyed by the version, with its questions' ids and words only (never who
reviewed it nor what they said). aggregate and notify keep the words (qc/question_words.py), so their
pages and alerts say a new question, or new words for one, as checkers were asked it. A change the broker
did not take (it was down) is kept as not told and told by the checks worker's job on a later run.
"""

from __future__ import annotations

from pymongo.database import Database

from qc import events, told
from qc.kafka import Publisher
from qc.settings import TOPICS, Settings
from services.checks.stores.question_versions import QuestionVersions


def changed_event(doc: dict) -> dict:
    """The event for a version as it stands; one id per step, so telling it twice is one event."""
    data = {
        "set_id": doc["id"],
        "version": doc["version"],
        "status": doc["status"],
        "questions": [{"id": q["id"], "text": q["text"]} for q in doc["questions"]],
        "at": events.isoformat(doc["changed_at"]),
    }
    return events.make_event(
        "org.qc.questions.changed",
        source="qc/checks/questions",
        subject=doc["_id"],
        data=data,
        event_id=f"{doc['_id']}:{doc['status']}",
    )


class Teller(told.Teller):
    """Publishes a version's step and marks it told; False (logged) when the broker did not take it."""

    def __init__(self, publisher: Publisher, versions: QuestionVersions, topic: str = TOPICS["questions"]):
        # ``topic``: a test's own, so the stack's services never learn a test's words.
        super().__init__(publisher, topic, changed_event, versions.mark_told, versions.untold)


def job(settings: Settings, db: Database) -> told.RetryJob:
    """The checks worker's periodic job (made by its runner beside retention's)."""
    versions = QuestionVersions(db)
    return told.RetryJob(
        lambda: bool(versions.untold()),
        lambda: Teller(Publisher.for_settings(settings, "qc-checks-questions", source="qc/checks"), versions),
    )
