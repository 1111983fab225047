"""The "You said, we did" board of one site: what people raised in their checks, and what was done.

Pure logic over alerts, "is it better now?" answers and names: no I/O here.
The board hangs on a noticeboard, so it is anonymous unless a checker shared
that answer as "named" (then only their first name), and a worry (a
safeguarding matter) never shows any words or names at all, only that it
was raised and is, or has been, looked into.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from qc import dates

BOARD_DAYS = 183  # "recent": about six months, a noticeboard's worth
MAX_ITEMS = 30
BETTER_WORDS = {"better": "yes", "a_bit": "a bit", "no": "no"}
# "Not good" to a question, said back in easy read ("You said you do not always feel safe…"), not as
# the question and a score. A question without a sentence here is said back with its own words.
SAID_NOT_GOOD = {
    "listened-to": "You said staff do not always listen to you.",
    "feel-safe": "You said you do not always feel safe where you live.",
    "home-clean": "You said your home is not always clean or in good repair.",
    "choose-day": "You said you do not always choose what you do each day.",
    "respect": "You said staff do not always treat you with respect.",
    "know-complain": "You said you do not know how to complain.",
    "see-people": "You said you cannot always see the people who matter to you.",
    "things-will-get-better": "You said you are not sure things will get better.",
}


def said_not_good(question_id: str, texts: dict[str, str]) -> str:
    """The board's sentence for a "not good" answer to one question."""
    return SAID_NOT_GOOD.get(question_id) or f"You said “Not good” to “{texts.get(question_id, question_id)}”"


def since(now: dt.datetime) -> dt.datetime:
    """The oldest raising the board shows."""
    return now - dt.timedelta(days=BOARD_DAYS)


def from_checks(alert: dict) -> bool:
    """Raised from what a checker said (a worry, or answers), not from a score, a date or a rejection."""
    return bool(alert.get("safeguarding") or alert.get("question_ids"))


def first_name(name: str | None) -> str | None:
    """Only the first name goes on a noticeboard."""
    parts = (name or "").split()
    return parts[0] if parts else None


def long_date(when: dt.datetime | None) -> str | None:
    """25 November 2026, or None for a moment not reached yet."""
    return dates.long_date(when) if when else None


def better_words(counts: Counter | None) -> str | None:
    """What people said when asked "is it better now?": "yes", or "yes (2), no (1)" when they differ."""
    if not counts:
        return None
    given = [(BETTER_WORDS[a], counts[a]) for a in BETTER_WORDS if counts.get(a)]
    if len(given) == 1:
        return given[0][0]
    return ", ".join(f"{words} ({n})" for words, n in given)


def item(alert: dict, counts: Counter | None, names: dict[str, str], texts: dict[str, str]) -> dict:
    """One thing raised, as the board shows it."""
    worry = bool(alert.get("safeguarding"))
    resolved = alert.get("status") == "resolved"
    said = []
    if not worry:
        named: dict[str, set[str]] = {}
        for v in alert.get("voices", []):
            shown = first_name(names.get(v.get("checker_id"))) if v.get("named") else None
            if v.get("question_id") and shown:
                named.setdefault(v["question_id"], set()).add(shown)
        for qid in dict.fromkeys(alert.get("question_ids", [])):
            said.append({"words": said_not_good(qid, texts), "names": sorted(named.get(qid, ()))})
    return {
        "id": alert["_id"],
        "worry": worry,
        "raised_on": long_date(alert.get("raised_at")),
        "said": said,
        # A worry's response may hold safeguarding details: it stays with the checker (My checks).
        "did": None if worry else alert.get("response"),
        "did_on": long_date(alert.get("resolved_at")) if resolved else None,
        "working_on_it": not resolved,
        "better": better_words(counts),
    }


def action_item(
    action: dict, texts: dict[str, str], theme_labels: dict[str, str], counts: Counter | None = None
) -> dict:
    """An action a manager made about what people said, as the board shows it (never a name: it has none)."""
    about = action["about"]
    if about["kind"] == "question":
        said = said_not_good(about["id"], texts)
    elif about["kind"] == "text":  # the manager's words for one text, never the text itself
        said = f"You said this is not working: {about['words']}"
    elif action.get("site_id") is None:  # about the whole region
        said = (
            f"People across the region said this is not working: {theme_labels.get(about['id'], about['id']).lower()}."
        )
    else:
        said = f"You said this is not working: {theme_labels.get(about['id'], about['id']).lower()}."
    finished = action["status"] in ("done", "wont_do")
    did = action.get("done_words") if action["status"] == "done" else None
    if action["status"] == "wont_do":
        did = f"We will not do this. This is why: {action.get('reason')}"
    return {
        "id": action["_id"],
        "worry": False,
        "raised_on": long_date(action.get("created_at")),
        "said": [{"words": said, "names": []}],
        "did": did,
        "did_on": long_date(action.get("changed_at")) if finished else None,
        "working_on_it": not finished,
        "better": better_words(counts) if action["status"] == "done" else None,
        "at": action.get("created_at"),
    }


def items(
    alerts: list[dict],
    feedback: dict[str, Counter],
    names: dict[str, str],
    texts: dict[str, str],
    actions: list[dict] = (),
    theme_labels: dict[str, str] | None = None,
) -> list:
    """The board's items (what was raised, and the actions managers made), newest first, at most MAX_ITEMS."""
    raised = [{**item(a, feedback.get(a["_id"]), names, texts), "at": a["raised_at"]} for a in alerts if from_checks(a)]
    made = [action_item(a, texts, theme_labels or {}, feedback.get(a["_id"])) for a in actions]
    return sorted(raised + made, key=lambda i: i["at"], reverse=True)[:MAX_ITEMS]
