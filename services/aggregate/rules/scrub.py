"""Taking obvious personal details out of free text before it is shown without a name.

A simple, explainable scrub, not a guarantee: e-mail addresses, phone
numbers (seven digits or more) and UK postcodes become a marker saying what
was taken out. Names cannot be told apart from other words this way, so
texts that are handed round (the Working Together for Change pack, team
feedback) never carry the checker's name either.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# A run of digits with the spaces, dots, dashes and brackets people write phone numbers with.
PHONE = re.compile(r"\+?\(?\d[\d\s().-]{5,}\d")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")  # a date written the ISO way is not a phone number
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
MAX_CHARS = 300


def _phone(match: re.Match) -> str:
    found = match.group(0)
    if sum(c.isdigit() for c in found) < 7 or DATE.fullmatch(found.strip()):
        return found
    return "[phone number removed]"


def clean(text: str) -> str:
    """``text`` without e-mail addresses, phone numbers or postcodes, trimmed to a readable length."""
    text = EMAIL.sub("[e-mail removed]", text)
    text = PHONE.sub(_phone, text)
    text = POSTCODE.sub("[postcode removed]", text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1].rstrip() + "…"
