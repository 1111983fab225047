"""What is written down about a checker besides their checks: how they came in, their consent to take part,
who supports them, who they are paired with, and when and why they stopped. Pure reading of the managers'
forms (no I/O); ``manager_checkers.py`` stores and shows it.

Managers write it (the checker never sees a form for it); each field's error is in plain words.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid

from qc.dates import parse_day

LIMITS = {"name": 100, "consent_how": 200, "supporter_name": 100, "supporter_contact": 200, "supporter_help": 500}
STOP_REASON_LIMIT = 500


def new_form_id() -> str:
    """Made when "Add a checker" is shown, sent back with it: the same form sent twice adds one checker."""
    return uuid.uuid4().hex


def new_checker_id(secret_key: str, form_id: str | None) -> str:
    """A new checker's id from the form's id (a second press finds the checker the first one added): short and
    unguessable; a form without one (an old copy of the page) gets a random id."""
    if not form_id:
        return f"C-{uuid.uuid4().hex[:10]}"
    return f"C-{hmac.new(secret_key.encode(), form_id.encode(), hashlib.sha256).hexdigest()[:10]}"


def looks_like_email(text: str) -> bool:
    """Good enough to decide whether the supporter's contact can be written to (it is shown as given anyway)."""
    local, _, domain = text.partition("@")
    return bool(local) and "." in domain and not any(c.isspace() for c in text)


def read_record(form, today: dt.date, checkers_to_pair: set[str]) -> tuple[dict, dict[str, str]]:
    """(the record's fields, errors by field) from the record form."""
    errors: dict[str, str] = {}
    text = {k: (form.get(k) or "").strip() for k in LIMITS}
    for field, limit in LIMITS.items():
        if len(text[field]) > limit:
            errors[field] = f"Please use {limit} letters or fewer."
    if not text["name"]:
        errors["name"] = "Write their name."
    consent = None
    if form.get("consent") == "yes":
        day = parse_day(form.get("consent_on") or "")
        if day is None:
            errors["consent_on"] = "Write the day they agreed, for example 2/11/2026 (day, month, year)."
        elif day > today:
            errors["consent_on"] = "The day they agreed cannot be in the future."
        else:
            consent = {"on": day.isoformat(), "how": text["consent_how"]}
    elif form.get("consent") != "not_yet":
        errors["consent"] = "Say whether they have agreed to take part."
    paired = (form.get("paired_with") or "").strip() or None
    if paired is not None and paired not in checkers_to_pair:
        errors["paired_with"] = "Choose a checker from the list, or nobody."
    contact = text["supporter_contact"]
    record = {
        "consent": consent,
        "supporter": {"name": text["supporter_name"], "contact": contact, "help": text["supporter_help"]},
        "paired_with": paired,
    }
    email = contact if looks_like_email(contact) else None  # what notify writes to, where the site chose that
    return {"name": text["name"], "record": record, "supporter_email": email}, errors


def read_stop(form) -> tuple[str, dict[str, str]]:
    """Why a checker is stopping (needed: the next person to read the record should know)."""
    reason = (form.get("reason") or "").strip()
    if not reason:
        return reason, {"reason": "Write why they are stopping, in a few words (for example: moved away)."}
    if len(reason) > STOP_REASON_LIMIT:
        return reason, {"reason": f"Please use {STOP_REASON_LIMIT} letters or fewer."}
    return reason, {}


def form_values(person: dict) -> dict:
    """The record form filled in from what is stored."""
    record = person.get("record") or {}
    consent = record.get("consent")
    supporter = record.get("supporter") or {}
    return {
        "name": person.get("name", ""),
        "consent": "yes" if consent else "not_yet",
        "consent_on": consent["on"] if consent else "",
        "consent_how": consent.get("how", "") if consent else "",
        "supporter_name": supporter.get("name", ""),
        "supporter_contact": supporter.get("contact") or person.get("supporter_email") or "",
        "supporter_help": supporter.get("help", ""),
        "paired_with": record.get("paired_with") or "",
    }
