"""Staff team feedback for supervision: a site's answers to the key questions, month by month, anonymised.

The key questions and the words a team leader reads are in
deploy/team-feedback.yaml. For each key question and month the team sees
how many answers were good, OK and not good, and the share of good.

No individual answer can be picked out. The rule, applied the same way in
the page, the CSV and the API:

- Every figure shown belongs to one cell: one question in one month, counted
  from that cell's answers only.
- A cell is shown only when at least ``QC_TEAM_FEEDBACK_MIN_ANSWERS``
  different people answered that question that month (checkers, and anyone
  supported there who answered through the site's own link: voices.py);
  otherwise all of its figures, and the comments given with its answers, are
  withheld.
- Nothing is added up across cells: no quarter, no 12-month total or
  average, no total over questions, and only months may be asked for. So no
  figure shown includes a withheld cell's answers, and no subtraction of one
  shown figure from another can bring a withheld cell back.
"""

from __future__ import annotations

import dataclasses

from qc import periods
from qc.key_questions import KeyQuestion
from services.aggregate.rules import scrub
from services.aggregate.stores.answerers import Answerers
from services.aggregate.stores.rollups import RollupStore, facts_in
from services.aggregate.stores.voices import Voices

MONTHS = 12
BANDS = ("good", "ok", "not_good")


def not_enough(min_answers: int) -> str:
    """What is shown instead of a withheld cell's figures."""
    return f"Not enough answers to show (fewer than {min_answers} people)"


def cell(month: str, counts: dict | None, people: int, min_answers: int) -> dict:
    """One question in one month: its figures, or none of them when fewer than ``min_answers`` people answered."""
    if people < min_answers:
        return {
            "period": month,
            "shown": False,
            **dict.fromkeys((*BANDS, "answers", "share_good")),
            "note": not_enough(min_answers),
        }
    counts = counts or {}
    figures = {band: counts.get(band, 0) for band in BANDS}
    answers = sum(figures.values())
    share = round(figures["good"] / answers, 3) if answers else None
    return {"period": month, "shown": True, **figures, "answers": answers, "share_good": share, "note": None}


class TeamFeedback:
    """The read model behind the team feedback page, CSV and API."""

    def __init__(
        self,
        store: RollupStore,
        answerers: Answerers,
        questions: list[KeyQuestion],
        min_answers: int,
        voices: Voices | None = None,
    ):
        self.store = store
        self.answerers = answerers
        self.questions = questions
        self.min_answers = min_answers
        # Answers given through the site's own link by anyone supported there: one person each (voices.py).
        self.voices = voices

    def for_site(self, site_id: str, month: str) -> dict:
        """The key questions of a site for ``month`` (a YYYY-MM), each with its 12-month trend and comments."""
        if periods.kind_of(month) != "month":
            raise periods.PeriodError(f"{month!r}: team feedback is by month; give the period as YYYY-MM")
        months = periods.series(month, MONTHS)
        stored = self.store.rollups_by_id([f"site:{site_id}:{m}" for m in months])
        people = self.answerers.people(site_id, months)
        voices = self.voices.tally(site_id, months) if self.voices else {}
        out = []
        for q in self.questions:
            trend = []
            for m in months:
                checkers = (stored.get(f"site:{site_id}:{m}") or {}).get("questions", {}).get(q.id) or {}
                others = voices.get((m, q.id), {})
                counts = {band: checkers.get(band, 0) + others.get(band, 0) for band in BANDS}
                trend.append(cell(m, counts, people.get((m, q.id), 0) + others.get("people", 0), self.min_answers))
            out.append({**dataclasses.asdict(q), "month": trend[-1], "trend": trend})
        shown = {q["id"] for q in out if q["month"]["shown"]}
        comments = self._comments(site_id, month, shown)
        for q in out:
            q["comments"] = comments.get(q["id"], [])
        return {"site_id": site_id, "period": month, "min_answers": self.min_answers, "questions": out}

    def _comments(self, site_id: str, month: str, question_ids: set[str]) -> dict[str, list[str]]:
        """Comments given with the answers of the shown cells: no name, no date, contact details taken out.

        In alphabetical order, not by visit, so the order says nothing about who came when.
        """
        if not question_ids:
            return {}
        out: dict[str, list[str]] = {}
        query = {"site_id": site_id, **facts_in(month)}
        for fact in self.store.facts.find(query, {"comments": 1}):
            for question_id, text in (fact.get("comments") or {}).items():
                if question_id in question_ids and scrub.clean(text):
                    out.setdefault(question_id, []).append(scrub.clean(text))
        return {q: sorted(texts, key=str.casefold) for q, texts in out.items()}


def rows(report: dict) -> list[dict]:
    """The CSV: one row per key question and month of the trend, withheld cells with their note and no figures."""
    return [
        {"question_id": q["id"], "question": q["team_wording"], **c} for q in report["questions"] for c in q["trend"]
    ]


COLUMNS = ["question_id", "question", "period", *BANDS, "answers", "share_good", "note"]
