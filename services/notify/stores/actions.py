"""Actions: what a manager will do about something people said, followed to done ("you said, we did").

A manager turns a "not good" answer to a question, a "What is not working?" theme, or one such text, at a
site into an action with plain words, an owner and a due date. Its states: open, in progress, done (with
what was done, for the board) or won't do (with why, in plain words). An action names what people said
only by the question, the theme, or (for one text) the manager's own words for it with the text's key
(qc/text_keys.py), never by a checker's words or name, so anonymity holds everywhere it shows.

``Actions`` owns the ``actions`` collection; ``read_new`` and ``read_change`` read the managers' forms
(pure, errors in plain words by field).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from pymongo import ASCENDING
from pymongo.database import Database

from qc import events, question_words, text_keys, themes
from qc.dates import parse_day

STATES = {"open": "Not started", "in_progress": "In progress", "done": "Done", "wont_do": "Will not be done"}
OPEN_STATES = ("open", "in_progress")
LIMITS = {"what": 500, "owner": 100, "done_words": 500, "reason": 500, "said": 300}
DUE_SOON = dt.timedelta(days=7)


@dataclasses.dataclass(frozen=True)
class About:
    """What people said that an action is about: a question answered "not good", a "not working" theme, or
    one "not working" text (by its key; ``words``: the manager's own words for it)."""

    kind: str  # "question", "theme" or "text"
    id: str
    words: str = ""

    @classmethod
    def parse(cls, text: str | None) -> About | None:
        kind, _, ident = (text or "").partition(":")
        return cls(kind, ident) if kind in ("question", "theme", "text") and ident else None

    def stored(self) -> dict:
        """As an action keeps it."""
        return {"kind": self.kind, "id": self.id, **({"words": self.words} if self.kind == "text" else {})}

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


class Actions:
    """The ``actions`` collection, by id; a site's and a scope's actions."""

    def __init__(self, db: Database):
        self.collection = db["actions"]

    def ensure_indexes(self) -> None:
        """A site's actions (its pages and board) and the open ones by due date (the home page)."""
        self.collection.create_index([("site_id", ASCENDING), ("created_at", ASCENDING)])
        self.collection.create_index([("status", ASCENDING), ("due_on", ASCENDING)])
        self.collection.create_index([("told", ASCENDING)])  # changes the checkers have not been told of yet

    def add(self, site: dict, about: About, period: str | None, fields: dict, by: str) -> dict:
        now = events.now()
        doc = {
            "_id": str(uuid.uuid4()),
            "site_id": site["_id"],
            "region_id": site.get("region_id"),
            "about": about.stored(),
            "period": period,
            **fields,
            "status": "open",
            "created_by": by,
            "created_at": now,
            "history": [{"status": "open", "by": by, "at": now}],
            "told": False,  # action_events.py tells the checkers, then marks it
        }
        self.collection.insert_one(doc)
        return doc

    def get(self, action_id: str) -> dict | None:
        return self.collection.find_one({"_id": action_id})

    def change(self, action: dict, change: dict, by: str) -> dict | None:
        """Move an action on; None if someone else changed it meanwhile (the page is shown again)."""
        now = events.now()
        result = self.collection.update_one(
            {"_id": action["_id"], "status": action["status"], "changed_at": action.get("changed_at")},
            {
                # A manager moving it on has answered any "not better": it leaves their home page.
                "$set": {**change, "changed_at": now, "changed_by": by, "told": False, "not_better_at": None},
                "$push": {"history": {"status": change["status"], "by": by, "at": now}},
            },
        )
        return self.get(action["_id"]) if result.modified_count else None

    def mark_told(self, action: dict) -> None:
        """The checkers have been told of this change (not of a later one made meanwhile)."""
        self.collection.update_one(
            {"_id": action["_id"], "changed_at": action.get("changed_at")}, {"$set": {"told": True}}
        )

    def untold(self, limit: int = 100) -> list[dict]:
        """Changes the checkers have not been told of (the broker was down), the oldest first."""
        return list(self.collection.find({"told": False}, sort=[("created_at", ASCENDING)], limit=limit))

    def mark_not_better(self, action_id: str, at: dt.datetime) -> bool:
        """A checker says it is not better after it was done: back before its managers, unless changed since."""
        result = self.collection.update_one(
            {"_id": action_id, "status": "done", "changed_at": {"$lt": at}}, {"$set": {"not_better_at": at}}
        )
        return result.modified_count == 1

    def late(self, today: dt.date) -> list[dict]:
        """Open or in progress, past their day, and not yet passed up to the regional manager."""
        query = {"status": {"$in": list(OPEN_STATES)}, "due_on": {"$lt": today.isoformat()}}
        return [a for a in self.collection.find(query) if not a.get("escalated_at")]

    def mark_escalated(self, action_id: str) -> bool:
        """Passed up once: False if another run did it meanwhile."""
        result = self.collection.update_one(
            {"_id": action_id, "escalated_at": None}, {"$set": {"escalated_at": events.now()}}
        )
        return result.modified_count == 1

    def in_scope(self, query: dict, limit: int = 1000) -> list[dict]:
        """Actions matching a scope query (site_id or region_id or none), the soonest due first."""
        return list(self.collection.find(query, sort=[("due_on", ASCENDING), ("created_at", ASCENDING)], limit=limit))


def read_new(form, today: dt.date, about: About) -> tuple[dict, dict[str, str]]:
    """(what, owner, due_on) from the form to make an action, and an error for each field not right; for an
    action about one text, also what people said in the manager's words (``said``)."""
    errors: dict[str, str] = {}
    text = {k: (form.get(k) or "").strip() for k in ("what", "owner")}
    if about.kind == "text":
        text["said"] = (form.get("said") or "").strip()
        if not text["said"]:
            errors["said"] = "Write what people said, in your own words, without names."
    if not text["what"]:
        errors["what"] = "Write what will be done, in plain words."
    if not text["owner"]:
        errors["owner"] = "Write who will do it."
    for field in text:
        if len(text[field]) > LIMITS[field]:
            errors[field] = f"Please use {LIMITS[field]} letters or fewer."
    day = parse_day((form.get("due_on") or "").strip())
    if day is None:
        errors["due_on"] = "Write the day it should be done by, for example 30/12/2026."
    elif day < today:
        errors["due_on"] = "The day it should be done by cannot be in the past."
    return {**text, "due_on": day.isoformat() if day else None}, errors


def read_change(form) -> tuple[dict, dict[str, str]]:
    """The new state from the form: done needs what was done, won't do needs why."""
    status = form.get("status")
    if status not in STATES or status == "open":
        return {}, {"status": "Choose what has happened."}
    change: dict = {"status": status}
    for field, needed_for, message in (
        ("done_words", "done", "Write what was done: people will read it on the board."),
        ("reason", "wont_do", "Write why it will not be done, in plain words: people will read it."),
    ):
        words = (form.get(field) or "").strip()
        if status == needed_for:
            if not words:
                return {}, {field: message}
            if len(words) > LIMITS[field]:
                return {}, {field: f"Please use {LIMITS[field]} letters or fewer."}
            change[field] = words
    return change, {}


def is_known(about: About, settings) -> bool:
    """A question of a question set, or a theme of deploy/themes.yaml: only those go on a board."""
    if about.kind == "question":
        return about.id in question_words.texts(settings.schemas_dir)
    if about.kind == "text":
        return text_keys.is_key(about.id)
    return about.id in themes.labels(settings.themes_path)


def about_words(about: dict, settings) -> str:
    """What people said, as a manager reads it: the question answered "not good", or the theme not working."""
    if about["kind"] == "question":
        return f"“Not good” to “{question_words.text(about['id'], settings.schemas_dir)}”"
    if about["kind"] == "text":
        return f"Not working: {about.get('words') or 'what people wrote'}"
    return f"Not working: {themes.labels(settings.themes_path).get(about['id'], about['id'])}"


def due_words(action: dict, today: dt.date) -> str:
    """When it is due, as people say it: "due today", "due in 3 days", "5 days late"."""
    days = (dt.date.fromisoformat(action["due_on"]) - today).days
    if days == 0:
        return "due today"
    if days > 0:
        return "due tomorrow" if days == 1 else f"due in {days} days"
    return "1 day late" if days == -1 else f"{-days} days late"


def needing_attention(actions: list[dict], today: dt.date) -> list[dict]:
    """Open or in progress and due within a week or late, the latest first."""
    soon = (today + DUE_SOON).isoformat()
    return sorted((a for a in actions if a["status"] in OPEN_STATES and a["due_on"] <= soon), key=lambda a: a["due_on"])
