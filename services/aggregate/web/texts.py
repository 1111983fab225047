"""Free text as managers may read it: latest comments and the texts behind a theme, with consent applied.

A text carries the checker's name only when they shared it "named"; anything
else reads "Anonymous". No entry carries a submission id or a checker id.

A site's latest comments keep the two apart so that an anonymous text cannot
be joined to a named one from the same check: named texts are dated entries;
anonymous texts are a separate list with no date, in alphabetical order (not
the order of the checks), and only from months in which at least
``min_people`` different checkers checked the site (as staff team feedback
does); the others are counted and the reader is told why they are not shown.
"""

from __future__ import annotations

from pymongo.collection import Collection

from qc import themes
from qc.sharing import ANONYMOUS, NAMED
from services.aggregate.stores.answerers import Answerers
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.rollups import facts_in

QUESTIONS = {"working": "What is working", "not_working": "What is not working"}
ANONYMOUS_LABEL = "Anonymous"
NAMED_LABEL = "Named by the checker"  # shared with their name, but the directory has no name for them
_FIELDS = {"site_id": 1, "visited_on": 1, "comments": 1, "working": 1, "not_working": 1}
_CONSENT = {"shares": 1, "named_checker_id": 1}


class Texts:
    """Read models of the free text in aggregate's facts."""

    def __init__(
        self,
        facts: Collection,
        directory: SiteDirectory,
        theme_list: list[themes.Theme],
        answerers: Answerers,
        min_people: int,
    ):
        self.facts = facts
        self.directory = directory
        self.themes = theme_list
        self.answerers = answerers
        self.min_people = min_people

    def latest_comments(self, site_id: str, limit: int = 20) -> dict:
        """The newest free text of a site: ``named`` entries (newest visit first, dated, with the name) and,
        apart, ``anonymous`` texts (no date, alphabetical), ``withheld`` counting those not shown and ``why``."""
        cursor = self.facts.find(
            {"site_id": site_id}, {**_FIELDS, **_CONSENT}, sort=[("visited_on", -1), ("received_at", -1)], limit=limit
        )
        facts = list(cursor)
        names = self._names(facts)
        named, anonymous = [], []
        for fact in facts:
            entry = _entry(fact, NAMED)
            if entry["comments"] or entry["working"] or entry["not_working"]:
                named.append({**entry, **_attribution(fact, NAMED, names)})
            month = fact["visited_on"][:7]
            anonymous += [(month, q, t) for q, t in _texts(_entry(fact, ANONYMOUS))]
        people = self.answerers.checkers(site_id, [m for m, _q, _t in anonymous])
        shown = sorted(
            ({"question": q, "text": t} for m, q, t in anonymous if people.get(m, 0) >= self.min_people),
            key=lambda x: (x["text"].casefold(), x["question"]),
        )
        withheld = len(anonymous) - len(shown)
        why = (
            f"{withheld} comment(s) without a name are not shown: fewer than {self.min_people} different people "
            "checked this place in the month they were written, so someone could tell who wrote them."
            if withheld
            else None
        )
        return {"named": named, "anonymous": shown, "withheld": withheld, "why": why}

    def comment_rows(self, latest: dict) -> list[dict]:
        """``latest_comments`` as one row per text (for a CSV): named ones dated, anonymous ones not."""
        rows = []
        for e in latest["named"]:
            rows += [{"visited_on": e["visited_on"], "question": q, "text": t, "by": e["by"]} for q, t in _texts(e)]
        rows += [
            {"visited_on": "", "question": a["question"], "text": a["text"], "by": ANONYMOUS_LABEL}
            for a in latest["anonymous"]
        ]
        return rows

    def theme_texts(
        self, kind: str, theme_id: str, period: str, region_id: str | None = None, site_id: str | None = None
    ) -> tuple[list[dict], int]:
        """(rows, withheld): every text of one theme in a period (a site, a region or everyone).

        Named texts come first, newest visit first, dated. Anonymous ones follow by site and text, with no
        date (a date beside a site would tie them to that site's named comments of the same visit), and
        only from a site and month where at least ``min_people`` different checkers checked; ``withheld``
        counts the others.
        """
        query = facts_in(period)
        if region_id:
            query["region_id"] = region_id
        if site_id:
            query["site_id"] = site_id
        facts = list(self.facts.find(query, {**_FIELDS, **_CONSENT}, sort=[("visited_on", -1), ("site_id", 1)]))
        names = self._names(facts)
        site_names = {}
        named, anonymous = [], []
        for fact in facts:
            matching = [t for t in fact.get(kind, []) if theme_id in themes.classify(t, self.themes)]
            if not matching:
                continue
            if fact["site_id"] not in site_names:
                site_names[fact["site_id"]] = (self.directory.site(fact["site_id"]) or {}).get("name")
            share = _shares(fact)["texts"]
            for text in matching:
                row = {
                    "visited_on": fact["visited_on"] if share == NAMED else "",
                    "site_id": fact["site_id"],
                    "site_name": site_names[fact["site_id"]],
                    "question": QUESTIONS[kind],
                    "text": text,
                    **_attribution(fact, share, names),
                }
                (named if share == NAMED else anonymous).append((fact["visited_on"][:7], row))
        shown = self._enough_people(anonymous)
        shown.sort(key=lambda r: (r["site_name"] or r["site_id"], r["text"].casefold()))
        return [row for _month, row in named] + shown, len(anonymous) - len(shown)

    def _enough_people(self, dated_rows: list[tuple[str, dict]]) -> list[dict]:
        """The rows from a site and month that at least ``min_people`` different checkers checked."""
        by_site: dict[str, list[str]] = {}
        for month, row in dated_rows:
            by_site.setdefault(row["site_id"], []).append(month)
        people = {site: self.answerers.checkers(site, months) for site, months in by_site.items()}
        return [row for month, row in dated_rows if people[row["site_id"]].get(month, 0) >= self.min_people]

    def _names(self, facts: list[dict]) -> dict[str, str]:
        ids = {f["named_checker_id"] for f in facts if f.get("named_checker_id")}
        return self.directory.checker_names(ids) if ids else {}


def _shares(fact: dict) -> dict:
    # Facts stored before consent was asked have no shares: everything anonymous.
    shares = fact.get("shares") or {}
    return {"comments": shares.get("comments") or {}, "texts": shares.get("texts") or ANONYMOUS}


def _texts(entry: dict) -> list[tuple[str, str]]:
    """(question, text) of an entry: comments by question id, then what is working and not working."""
    texts = [(q, t) for q, t in sorted(entry["comments"].items())]
    return texts + [(QUESTIONS[kind], t) for kind in QUESTIONS for t in entry[kind]]


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
