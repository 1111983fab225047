"""Free text as managers may read it: latest comments and the texts behind a theme, with consent applied.

A text carries the checker's name only when they shared it "named"; anything
else reads "Anonymous". Texts of one check shared differently go into separate
entries, and no entry carries a submission id or a checker id, so an anonymous
text cannot be joined to a named one from the same check.
"""

from __future__ import annotations

from pymongo.collection import Collection

from qc import periods
from services.aggregate import themes
from services.aggregate.directory import SiteDirectory
from services.aggregate.handlers import ANONYMOUS, NAMED

QUESTIONS = {"working": "What is working", "not_working": "What is not working"}
ANONYMOUS_LABEL = "Anonymous"
NAMED_LABEL = "Named by the checker"  # shared with their name, but the directory has no name for them
_FIELDS = {"site_id": 1, "visited_on": 1, "comments": 1, "working": 1, "not_working": 1}
_CONSENT = {"shares": 1, "named_checker_id": 1}


class Texts:
    """Read models of the free text in aggregate's facts."""

    def __init__(self, facts: Collection, directory: SiteDirectory, theme_list: list[themes.Theme]):
        self.facts = facts
        self.directory = directory
        self.themes = theme_list

    def latest_comments(self, site_id: str, limit: int = 20) -> list[dict]:
        """The newest free text of a site, newest visit first: one entry per check and way of sharing."""
        cursor = self.facts.find(
            {"site_id": site_id}, {**_FIELDS, **_CONSENT}, sort=[("visited_on", -1), ("received_at", -1)], limit=limit
        )
        facts = list(cursor)
        names = self._names(facts)
        entries = []
        for fact in facts:
            for share in (NAMED, ANONYMOUS):
                entry = _entry(fact, share)
                if entry["comments"] or entry["working"] or entry["not_working"]:
                    entries.append({**entry, **_attribution(fact, share, names)})
        return entries

    def comment_rows(self, entries: list[dict]) -> list[dict]:
        """``latest_comments`` as one row per text (for a CSV)."""
        rows = []
        for e in entries:
            texts = [(q, t) for q, t in sorted(e["comments"].items())]
            texts += [(QUESTIONS[kind], t) for kind in QUESTIONS for t in e[kind]]
            rows += [{"visited_on": e["visited_on"], "question": q, "text": t, "by": e["by"]} for q, t in texts]
        return rows

    def theme_texts(
        self, kind: str, theme_id: str, period: str, region_id: str | None = None, site_id: str | None = None
    ) -> list[dict]:
        """Every text of one theme in a period (for a site, a region or everyone), newest visit first."""
        query = {f"periods.{periods.kind_of(period)}": period}
        if region_id:
            query["region_id"] = region_id
        if site_id:
            query["site_id"] = site_id
        facts = list(self.facts.find(query, {**_FIELDS, **_CONSENT}, sort=[("visited_on", -1), ("site_id", 1)]))
        names = self._names(facts)
        site_names = {}
        rows = []
        for fact in facts:
            matching = [t for t in fact.get(kind, []) if theme_id in themes.classify(t, self.themes)]
            if not matching:
                continue
            if fact["site_id"] not in site_names:
                site_names[fact["site_id"]] = (self.directory.site(fact["site_id"]) or {}).get("name")
            share = _shares(fact)["texts"]
            for text in matching:
                rows.append(
                    {
                        "visited_on": fact["visited_on"],
                        "site_id": fact["site_id"],
                        "site_name": site_names[fact["site_id"]],
                        "question": QUESTIONS[kind],
                        "text": text,
                        **_attribution(fact, share, names),
                    }
                )
        return rows

    def _names(self, facts: list[dict]) -> dict[str, str]:
        ids = {f["named_checker_id"] for f in facts if f.get("named_checker_id")}
        return self.directory.checker_names(ids) if ids else {}


def _shares(fact: dict) -> dict:
    # Facts stored before consent was asked have no shares: everything anonymous.
    shares = fact.get("shares") or {}
    return {"comments": shares.get("comments") or {}, "texts": shares.get("texts") or ANONYMOUS}


def _entry(fact: dict, share: str) -> dict:
    shares = _shares(fact)
    texts_match = shares["texts"] == share
    comments = fact.get("comments", {})
    return {
        "visited_on": fact["visited_on"],
        "comments": {q: t for q, t in comments.items() if shares["comments"].get(q, ANONYMOUS) == share},
        "working": list(fact.get("working", [])) if texts_match else [],
        "not_working": list(fact.get("not_working", [])) if texts_match else [],
    }


def _attribution(fact: dict, share: str, names: dict[str, str]) -> dict:
    if share != NAMED:
        return {"shared": ANONYMOUS, "by": ANONYMOUS_LABEL}
    return {"shared": NAMED, "by": names.get(fact.get("named_checker_id")) or NAMED_LABEL}
