"""The Working Together for Change pack: a region's themes for a co-production event, with anonymised quotes.

For each theme of what is working and what is not working: how often it was
mentioned, in how many checks, and a few quotes. Quotes never carry a name
(even where the checker shared one), a site or a date, and obvious contact
details are taken out (scrub.py). "Ideas for the future" has its place in the
pack but no texts yet: the form does not ask for them.
"""

from __future__ import annotations

from pymongo.collection import Collection

from qc import themes
from services.aggregate.rules import scrub
from services.aggregate.stores.rollups import facts_in

QUOTES_PER_THEME = 3
SECTIONS = {"working": "What is working", "not_working": "What is not working"}


def pack(facts: Collection, theme_list: list[themes.Theme], region_id: str, period: str) -> dict:
    """The pack for a region and period: {checks, working, not_working, ideas}; each theme with up to 3 quotes."""
    query = {"region_id": region_id, **facts_in(period)}
    # Newest visit first, so the quotes are the freshest; the id settles ties the same way every time.
    found = list(facts.find(query, {"working": 1, "not_working": 1}, sort=[("visited_on", -1), ("_id", 1)]))
    grouped = themes.group(found, theme_list)
    out = {"region_id": region_id, "period": period, "checks": len(found), "ideas": None}
    for kind in SECTIONS:
        quotes: dict[str, list[str]] = {}
        seen: dict[str, set[str]] = {}
        for fact in found:
            for text in fact.get(kind, []):
                quote = scrub.clean(text)
                for theme_id in themes.classify(text, theme_list):
                    same = seen.setdefault(theme_id, set())
                    if quote and quote.casefold() not in same and len(quotes.get(theme_id, [])) < QUOTES_PER_THEME:
                        same.add(quote.casefold())
                        quotes.setdefault(theme_id, []).append(quote)
        out[kind] = [
            {k: v for k, v in t.items() if k != "submission_ids"} | {"quotes": quotes.get(t["theme"], [])}
            for t in grouped[kind]
        ]
    return out
