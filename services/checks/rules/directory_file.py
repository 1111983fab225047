"""Whether a directory file (regions, sites, people) may be imported: one plain line per wrong value."""

from __future__ import annotations

from qc import schedules

_EMAIL_FIELDS = ("email", "supporter_email")


def directory_problems(raw: dict) -> list[str]:
    """What is wrong with a directory file, one plain line per value; empty when it may be imported.

    A line break in a name or address would end up in e-mail headers (a site name is in the subject),
    so no text may hold a control character, and addresses must look like one.
    """
    problems = []
    for group in ("regions", "sites", "people"):
        for i, doc in enumerate(raw.get(group) or []):
            if not isinstance(doc, dict):
                problems.append(f"{group}[{i}] must be an object")
                continue
            where = f"{group}[{i}] ({doc.get('id', doc.get('_id', 'no id'))})"
            for field, value in doc.items():
                if isinstance(value, str) and any(ord(c) < 32 or ord(c) == 127 for c in value):
                    problems.append(f"{where}: '{field}' has a line break or another control character")
                elif field in _EMAIL_FIELDS and value is not None and not _looks_like_email(value):
                    problems.append(f"{where}: '{field}' is not an e-mail address")
                elif field == "check_interval" and value is not None and value not in schedules.INTERVALS:
                    problems.append(f"{where}: 'check_interval' must be one of {', '.join(schedules.INTERVALS)}")
    return problems


def _looks_like_email(value) -> bool:
    if not isinstance(value, str) or value.count("@") != 1 or any(c.isspace() for c in value):
        return False
    local, domain = value.split("@")
    return bool(local) and bool(domain.strip("."))
