"""What a check's record keeps of it beyond its key fields, for the checker's own list and for actions (no I/O)."""

from __future__ import annotations

from qc import events, text_keys, themes


def shown_back(received: dict, known_themes, text_secret: str | None = None) -> dict:
    """What a record keeps of a check beyond its key fields, never its free text: how it was answered and
    whether it was a worry alone ("You answered with a supporter helping"), the answers' scores in the words
    of its question set (My checks), and what it said is not working, as theme ids and as the texts' keys
    (qc/text_keys.py): an action about a theme or about one text finds the checks that said it
    (action_news.py)."""
    kept = {
        "answered_by": received.get("answered_by"),
        "kind": received.get("kind", events.CHECK),
        "answers": [{"question_id": a["question_id"], "score": a["score"]} for a in received.get("answers", [])],
    }
    if known_themes and received.get("not_working"):
        found = {theme for text in received["not_working"] for theme in themes.classify(text, known_themes)}
        kept["not_working_themes"] = sorted(found)
    if text_secret and received.get("not_working"):
        kept["not_working_keys"] = sorted({text_keys.text_key(text, text_secret) for text in received["not_working"]})
    return kept
