"""What managers are doing about what a checker said: an action reaches the checks it is about.

A manager at notify turns "not good" to a question (or a "not working" theme) at a site, or a theme across
a region, into an action; each change of it arrives as ``org.qc.action.changed``. The checks it is about
are the counted checks of that site (or of the region's sites), visited in the action's period (or in the
three months before it was made), that said it: each gets the action as a response on My checks ("You
said … We are doing … / We did …") and, once it is done, "Is it better now?". A checker only ever sees
their own check: the action carries no one's words but the managers'.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from qc import periods, question_words, themes

LOOK_BACK = dt.timedelta(days=92)  # an action made without a period is about the last three months
NOT_GOOD = 1


def window(data: dict) -> tuple[str, str]:
    """The first and last visit day (ISO) of the checks an action is about."""
    if data.get("period"):
        return periods.first_day(data["period"]).isoformat(), periods.last_day(data["period"]).isoformat()
    made = dt.date.fromisoformat(data["created_at"][:10])
    return (made - LOOK_BACK).isoformat(), made.isoformat()


def said_it(record: dict, about: dict) -> bool:
    """True when this counted check said what the action is about."""
    if record.get("status") != "validated":
        return False
    if about["kind"] == "question":
        return any(a["question_id"] == about["id"] and a["score"] == NOT_GOOD for a in record.get("answers", ()))
    if about["kind"] == "text":  # one "not working" text, by its key (qc/text_keys.py)
        return about["id"] in record.get("not_working_keys", ())
    return about["id"] in record.get("not_working_themes", ())


def response(data: dict) -> dict:
    """The action as a check's record keeps it (the words managers wrote for people to read)."""
    kept = {k: data[k] for k in ("action_id", "about", "status", "what", "at")}
    return kept | {k: data[k] for k in ("done_words", "reason") if data.get(k)}


def record(directory, submissions, data: dict) -> int:
    """Put the action on every check it is about (of its site, or of every site of its region); returns how many."""
    sites, checkers = directory.sites_and_checkers(data["site_id"], data.get("region_id"))
    first, last = window(data)
    found = submissions.checks_at(checkers, sites, first, last)
    ids = [r["_id"] for r in found if said_it(r, data["about"])]
    submissions.add_response(ids, response(data), key="action_id")
    return len(ids)


def said_words(about: dict, schemas_dir: Path, themes_path: Path) -> str:
    """What the checker said, as My checks tells it back."""
    if about["kind"] == "question":
        return f"You said “not good” to “{question_words.text(about['id'], schemas_dir)}”"
    if about["kind"] == "text":  # the managers' words for it: never a checker's own words
        return f"You said this is not working: {about['words']}"
    label = themes.labels(themes_path).get(about["id"], about["id"])
    return f"You said this is not working: {label[:1].lower()}{label[1:]}."


def shown(responses: list[dict], settings) -> list[dict]:
    """A check's responses for My checks, each action with the words of what was said."""
    return [
        {**r, "said": said_words(r["about"], settings.schemas_dir, settings.themes_path)} if "action_id" in r else r
        for r in responses
    ]
