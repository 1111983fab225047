"""The "Check your answers" rows: every answer in the checker's own words, each with where to change it."""

from __future__ import annotations

from collections.abc import Callable

from qc import sharing
from services.checks.stores.question_sets import answer_words

ANSWERED_BY_WORDS = {
    sharing.ALONE: "Just me",
    sharing.WITH_SUPPORTER: "Me, with a supporter helping",
    sharing.SUPPORTER_WROTE: "My supporter is writing what I say",
}
# Said once for the whole check (and for a worry on its own screen), never per answer.
SHARE_WORDS = {sharing.ANONYMOUS: "Your name is kept private", sharing.NAMED: "The manager can see your name"}


def name_share(draft: dict) -> str:
    """Whether this check shows the checker's name; a draft older than the one choice per check kept it per answer."""
    chosen = draft.get("name_share")
    if chosen in sharing.SHARE:
        return chosen
    given = [a.get("share") for a in draft.get("answers", {}).values()] + [draft.get("texts_share")]
    return sharing.NAMED if sharing.NAMED in given else sharing.DEFAULT_SHARE


def rows(
    draft: dict,
    question_set: dict,
    question_step: Callable[[str], str],
    change: Callable[[str], str],
    when: Callable[[str | None], str],
    name_href: str,
) -> list[dict]:
    """One row per answer; ``question_step(qid)`` names the screen a question is on, ``change(step)`` its address,
    ``when(iso_day)`` says the visit's day in words, ``name_href`` is where to change who can see the name."""
    out = [
        {
            "key": "Who is answering",
            "value": ANSWERED_BY_WORDS.get(draft.get("answered_by"), "Not answered"),
            "href": change("who"),
            "id": "who",
        },
        {"key": "When you visited", "value": when(draft.get("visited_on")), "href": change("when"), "id": "when"},
    ]
    for question in question_set["questions"]:
        answer = draft["answers"].get(question["id"])
        out.append(
            {
                "key": question["text"],
                "value": answer_words(question, question_set["scale"], answer["score"]) if answer else "Not answered",
                "comment": (answer or {}).get("comment", ""),
                "href": change(question_step(question["id"])),
                "id": question["id"],
            }
        )
    for name, key in (("working", "What is working"), ("not-working", "What is not working")):
        items = draft[name.replace("-", "_")]
        out.append(
            {"key": key, "things": items, "value": "" if items else "Nothing written", "href": change(name), "id": name}
        )
    out.append(
        {"key": "Who can see your name", "value": SHARE_WORDS[name_share(draft)], "href": name_href, "id": "name"}
    )
    return out
