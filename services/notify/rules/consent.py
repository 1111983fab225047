"""Who said it, only as far as they agreed: the voices behind an alert raised from a check.

A checker chooses per answer (and for the worried text) whether managers may
see it with their name; the default is anonymous, because many checkers fear
repercussions for speaking up. Notify keeps the checker id of every voice
(to tell them what was done and to hear whether it is better now), but what
it shows anyone — API, pages, e-mail, webhooks — is built here, and carries a
name only for a voice shared as "named", and never a checker id.
"""

from __future__ import annotations

from qc import sharing

ANSWERED_BY_WORDS = {
    sharing.ALONE: "",
    sharing.WITH_SUPPORTER: "answered with a supporter",
    sharing.SUPPORTER_WROTE: "a supporter wrote it",
}
ANONYMOUS = "Anonymous"
NAME_NOT_KNOWN = "a checker who agreed to be named"


def voice(validated: dict, question_id: str | None, share: str | None, comment: str = "") -> dict:
    """The stored record of one answer (or, with no question, the worried text) behind an alert."""
    return {
        "submission_id": validated["submission_id"],
        "checker_id": validated.get("checker_id"),
        "question_id": question_id,
        "share": sharing.share_of(share),  # what the checker chose
        "named": share == sharing.NAMED,  # whether the name is shown: anything else, or nothing, is anonymous
        "answered_by": sharing.answered_by_of(validated.get("answered_by")),
        "comment": comment or "",
    }


def guard(voices: list[dict]) -> list[dict]:
    """One check's voices, with no name shown at all if any of them is anonymous.

    Every alert carries its submission ids, and the alerts from one check are raised together, so a name
    shown on one answer would give away the anonymous answer (or worry) from the same check beside it.
    """
    if all(v["named"] for v in voices):
        return voices
    return [{**v, "named": False} for v in voices]


def names_for(contacts, alerts: list[dict]) -> dict[str, str]:
    """checker id -> name, for the named voices of these alerts only (anonymous ones are never looked up)."""
    wanted = {v["checker_id"] for a in alerts for v in a.get("voices", []) if v.get("named") and v.get("checker_id")}
    if not wanted or contacts is None:
        return {}
    return {c["_id"]: c["name"] for c in contacts.find({"_id": {"$in": sorted(wanted)}}) if c.get("name")}


def public_voices(alert: dict, names: dict[str, str], with_comments: bool = True) -> list[dict]:
    """The voices as anyone outside the store may see them: a name where shared, else "Anonymous"."""
    out = []
    for v in alert.get("voices", []):
        shown = {
            "question_id": v.get("question_id"),
            "from": (names.get(v.get("checker_id")) or NAME_NOT_KNOWN) if v.get("named") else ANONYMOUS,
            "named": bool(v.get("named")),
            "answered_by": sharing.answered_by_of(v.get("answered_by")),
            "answered_by_words": ANSWERED_BY_WORDS.get(v.get("answered_by"), ""),
        }
        if with_comments:
            shown["comment"] = v.get("comment", "")
        out.append(shown)
    # Named first, then anonymous, each in question order: the order of the list must not hint
    # which anonymous answer came from the same check as a named one.
    return sorted(out, key=lambda s: (not s["named"], s["from"], s["question_id"] or "", s["answered_by"]))
