"""The rules for a new version of the questions, without I/O: reading the lead's changes and a checker's
review from their forms, naming a new question, and saying who shaped a published version."""

from __future__ import annotations

import re

from services.checks.stores.question_versions import CLEAR

MAX_QUESTIONS = 15  # the form is one question a screen; more than this tires people out
MAX_TEXT, MAX_HINT, MAX_COMMENT, MAX_NAMES = 120, 200, 500, 300
# Pictures a new question may have (services/checks/web/templates/_symbols.html draws them).
QUESTION_SYMBOLS = {
    "ear": "An ear",
    "shield": "A shield",
    "house": "A house",
    "calendar": "A calendar",
    "handshake": "A handshake",
    "speech-bubble": "A speech bubble",
    "people": "People",
    "person": "A person",
    "clock": "A clock",
    "lock": "A lock",
    "better-here": "A home with a sun",
}


def read_changes(form, questions: list[dict], key_ids: set[str], known_ids: set[str]):
    """The draft's questions after the lead's changes: (questions, written_with, errors by field).

    A key question (its answers feed staff supervision every month) can be reworded, not removed. A new
    question gets an id no version ever used, so a question id always means the same question.
    """
    errors: dict[str, str] = {}
    kept = []
    for question in questions:
        qid = question["id"]
        if form.get(f"remove-{qid}"):
            if qid in key_ids:
                errors[f"remove-{qid}"] = "This is one of the monthly key questions. You can change its words."
            else:
                continue
        if form.get(f"text-{qid}") is None:  # not on the form that was sent: left as it was
            kept.append(question)
            continue
        text, hint = _words(form, f"text-{qid}", f"hint-{qid}", errors)
        kept.append({**question, "text": text or question["text"], "hint": hint})
    new_text = (form.get("new-text") or "").strip()
    if new_text:
        text, hint = _words(form, "new-text", "new-hint", errors)
        symbol = form.get("new-symbol", "")
        if symbol not in QUESTION_SYMBOLS:
            errors["new-symbol"] = "Choose a picture for the new question."
        safety = form.get("new-safety") == "yes"
        kept.append({"id": new_id(text, known_ids), "text": text, "hint": hint, "symbol": symbol, "safety": safety})
    if not kept:
        errors["questions"] = "Keep at least one question."
    elif len(kept) > MAX_QUESTIONS:
        errors["questions"] = f"There can be at most {MAX_QUESTIONS} questions. Remove one first."
    written_with = " ".join((form.get("written_with") or "").split())
    if len(written_with) > MAX_NAMES:
        errors["written_with"] = f"Write at most {MAX_NAMES} letters here."
    return kept, written_with, errors


def _words(form, text_field: str, hint_field: str, errors: dict[str, str]) -> tuple[str, str]:
    text = " ".join((form.get(text_field) or "").split())
    hint = " ".join((form.get(hint_field) or "").split())
    if not text:
        errors[text_field] = "Write the question."
    elif len(text) > MAX_TEXT:
        errors[text_field] = f"Make the question shorter: at most {MAX_TEXT} letters."
    if len(hint) > MAX_HINT:
        errors[hint_field] = f"Make the help shorter: at most {MAX_HINT} letters."
    return text, hint


def new_id(text: str, known_ids: set[str]) -> str:
    """A readable id from the question's first words ("do-you-like-the-food"), never one already used."""
    words = re.findall(r"[a-z0-9]+", text.lower())[:6] or ["question"]
    base = "-".join(words)[:40].strip("-")
    candidate, n = base, 2
    while candidate in known_ids:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def read_review(form, questions: list[dict]) -> tuple[dict, bool, dict[str, str]]:
    """A checker's review: per question whether it is clear and a comment; whether they may be named.

    Any question may be left (forgiving), but not all of them: a review says something about one at least.
    """
    answers, errors = {}, {}
    for question in questions:
        qid = question["id"]
        clear = form.get(f"clear-{qid}", "")
        comment = " ".join((form.get(f"comment-{qid}") or "").split())
        if clear and clear not in CLEAR:
            errors[f"clear-{qid}"] = "Choose Yes, Not sure or No."
        if len(comment) > MAX_COMMENT:
            errors[f"comment-{qid}"] = f"Please write at most {MAX_COMMENT} letters."
        if clear or comment:
            answers[qid] = {"clear": clear or None, "comment": comment, "text": question["text"]}
    if not answers and not errors:
        errors["review"] = "Tell us about one question at least. Is it clear?"
    return answers, form.get("named") == "yes", errors


def review_summary(draft: dict) -> list[dict]:
    """Per question of the draft: how many found it clear, not sure, not clear, and the comments.

    Comments are shown without names: the lead reads what was said, not who said it. A review of words
    since changed is marked, so the lead knows it was about the earlier wording.
    """
    rows = []
    for question in draft["questions"]:
        counts = {key: 0 for key in CLEAR}
        comments = []
        for review in draft.get("reviews", []):
            answer = review["answers"].get(question["id"])
            if not answer:
                continue
            if answer["clear"]:
                counts[answer["clear"]] += 1
            if answer["comment"]:
                comments.append({"words": answer["comment"], "earlier": answer["text"] != question["text"]})
        rows.append({"question": question, "counts": counts, "comments": comments})
    return rows


def credits(draft: dict, site_names: list[str]) -> dict:
    """Who shaped a version, kept with it: names only of reviewers who agreed; the count of all of them."""
    reviews = draft.get("reviews", [])
    return {
        "written_with": draft.get("written_with", ""),
        "reviewed_by": [r["name"] for r in reviews if r.get("name")],
        "reviewed_count": len(reviews),
        "piloted_at": site_names,
    }


def next_version(versions: list[int]) -> int:
    """One more than any version of the set ever made (published, tried or given up): never reused."""
    return max(versions, default=0) + 1


def names_words(names: list[str]) -> str:
    """ "Sam", "Sam and Priya", "Sam, Priya and Joe"."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def credit_words(credits: dict) -> str:
    """Who shaped a version, in one or three short sentences, naming only people who agreed."""
    said = []
    if credits.get("written_with"):
        said.append(f"Written with {credits['written_with']}.")
    count, named = credits.get("reviewed_count", 0), credits.get("reviewed_by", [])
    if count:
        checkers = "1 checker" if count == 1 else f"{count} checkers"
        among = f", among them {names_words(named)}" if named and len(named) < count else ""
        said.append(f"Checked by {names_words(named) if len(named) == count else checkers}{among}.")
    if credits.get("piloted_at"):
        said.append(f"Tried at {names_words(credits['piloted_at'])}.")
    return " ".join(said)
