"""A checker's contribution (checks done, time given, training completed): recorded, added up, shown back.

Checks done are counted from their own submissions (accepted or validated, never a rejected one). Time and
training cannot be known from the form, so a manager writes them down as entries in ``contributions``;
hours shown are only ever the sum of those entries.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import uuid

from pymongo import ASCENDING
from pymongo.database import Database

from qc import events
from qc.dates import parse_day
from services.checks.stores.submissions import settled

KINDS = {
    "check_visit": "Check visit time",
    "training": "Training",
    "meeting": "Meeting or event",
    "other": "Other",
}
MAX_HOURS = 24
MAX_TITLE = 200
COUNTED = ("accepted", "validated")  # "sending" is not yet with us; "rejected" was not counted


class Contributions:
    """The ``contributions`` collection: one document per recorded entry."""

    def __init__(self, db: Database):
        self.collection = db["contributions"]
        self.submissions = db["submissions"]
        # Checks done whose records retention has since anonymised: a count and two dates per checker.
        self.tallies = db["contribution_tallies"]

    def ensure_indexes(self) -> None:
        """A checker's entries are listed by date."""
        self.collection.create_index([("checker_id", ASCENDING), ("date", ASCENDING)])

    def add(self, checker: dict, entry: dict, added_by: str) -> dict:
        """Record one entry for a checker (a person record from the directory)."""
        doc = {
            "_id": str(uuid.uuid4()),
            "checker_id": checker["_id"],
            "site_id": checker.get("site_id"),
            **entry,
            "added_by": added_by,
            "added_at": events.now(),
        }
        self.collection.insert_one(doc)
        return doc

    def remove(self, checker_id: str, entry_id: str) -> bool:
        """Remove one of this checker's entries; False if there was none."""
        return self.collection.delete_one({"_id": entry_id, "checker_id": checker_id}).deleted_count == 1

    def entries(self, checker_id: str) -> list[dict]:
        """Every entry for a checker, oldest first."""
        return list(
            self.collection.find({"checker_id": checker_id}, sort=[("date", ASCENDING), ("added_at", ASCENDING)])
        )

    def checks(self, checker_id: str) -> tuple[int, str | None, str | None]:
        """(checks done, first visit day, latest visit day): their counted submissions plus those since anonymised."""
        fields = {"visited_on": 1, "kind": 1, "status": 1, "claimed_at": 1, "decided_at": 1}
        found = list(self.submissions.find({"checker_id": checker_id}, fields))
        found = settled(self.submissions.database, found)
        found = [d for d in found if d["status"] in COUNTED]
        # A worry sent on its own is not a check the checker did (qc/events.py).
        days = sorted(d["visited_on"] for d in found if d.get("kind") != events.WORRY_ALONE)
        tally = self.tallies.find_one({"_id": checker_id}) or {}
        done = len(days) + tally.get("checks", 0)
        firsts = [d for d in (days[:1] + [tally.get("first")]) if d]
        latests = [d for d in (days[-1:] + [tally.get("latest")]) if d]
        return done, (min(firsts) if firsts else None), (max(latests) if latests else None)

    def tally_anonymised(self, checker_id: str, visited_on: str) -> None:
        """Count one check whose record retention is about to take the checker off (retention.py)."""
        self.tallies.update_one(
            {"_id": checker_id},
            {"$inc": {"checks": 1}, "$min": {"first": visited_on}, "$max": {"latest": visited_on}},
            upsert=True,
        )


@dataclasses.dataclass(frozen=True)
class Record:
    """What the checker's page and printable record show."""

    checks_done: int
    first_check: str | None
    latest_check: str | None
    hours: float
    entries: list[dict]

    @property
    def training(self) -> list[dict]:
        """Training completed, oldest first."""
        return [e for e in self.entries if e["kind"] == "training"]


def record(store: Contributions, checker_id: str) -> Record:
    """Add up one checker's contribution."""
    done, first, latest = store.checks(checker_id)
    entries = store.entries(checker_id)
    return Record(done, first, latest, round(sum(e["hours"] for e in entries), 2), entries)


def hours_words(hours: float) -> str:
    """2.5 -> "2.5 hours", 1 -> "1 hour"."""
    text = f"{hours:g}"
    return f"{text} hour" if text == "1" else f"{text} hours"


# --- reading the manager's form: a pure function, errors in plain words keyed by the field's id ---


def read_entry(form, today: dt.date) -> tuple[dict, dict[str, str]]:
    """An entry (date, kind, hours, title) from the form, and an error for each field that is not right."""
    errors: dict[str, str] = {}
    raw_date = (form.get("date") or "").strip()
    day = _day(raw_date)
    if not raw_date:
        errors["date"] = "Enter the date, for example 3/11/2026."
    elif day is None:
        errors["date"] = "Enter a real date, like 3/11/2026 (day, month, year)."
    elif day > today:
        errors["date"] = "The date cannot be in the future."
    kind = form.get("kind") or ""
    if kind not in KINDS:
        errors["kind"] = "Choose what kind of time this was."
    raw_hours = (form.get("hours") or "").strip()
    hours = _hours(raw_hours)
    if not raw_hours:
        errors["hours"] = "Enter the hours, for example 2 or 1.5."
    elif hours is None:
        errors["hours"] = "Enter the hours as a number, for example 2 or 1.5."
    elif not 0 <= hours <= MAX_HOURS:
        errors["hours"] = f"Enter between 0 and {MAX_HOURS} hours for one day."
    title = " ".join((form.get("title") or "").split())
    if not title:
        errors["title"] = "Enter what it was, for example “Safeguarding awareness course”."
    elif len(title) > MAX_TITLE:
        errors["title"] = f"Use {MAX_TITLE} letters or fewer for what it was."
    entry = {"date": day.isoformat() if day else raw_date, "kind": kind, "hours": hours, "title": title}
    return entry, errors


def _day(text: str) -> dt.date | None:
    return parse_day(text.strip())


def _hours(text: str) -> float | None:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        return None
    return round(value, 2) if math.isfinite(value) else None
