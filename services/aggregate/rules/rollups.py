"""Roll-up arithmetic: pure functions from facts to figures (and a roll-up's public event).

A roll-up is recomputed from the stored facts rather than incremented, so
a redelivered, duplicated or replayed event can never count twice, and the
order events arrive in does not matter.
"""

from __future__ import annotations

import datetime as dt

from qc import events, periods
from qc.sharing import ANSWERED_BY, NAMED, answered_by_of, share_of

BANDS = {3: "good", 2: "ok", 1: "not_good", None: "skipped"}
# ANSWERED_BY: who held the pen, as the checker told us; events from before consent was asked mean "alone".
# "Do you think things will get better here?" (kind "confidence"; v2 asked "How sure are you…?") is not about the
# service's quality, so it stays out of the score and the per-question counts. Recognised by its id, not by
# loading question-set files: a question's id and kind never change between versions of a set, so a fact is
# the same whatever files this process has, and a replay of old events (which never had it) is unchanged.
CONFIDENCE_QUESTIONS = frozenset({"things-will-get-better"})
CONFIDENCE_BANDS = {3: "sure", 2: "a_bit", 1: "not_sure", None: "skipped"}


def fact_from_validated(data: dict) -> dict:
    """What aggregate keeps of one validated submission."""
    visited = dt.date.fromisoformat(data["visited_on"])
    return {
        "_id": data["submission_id"],
        "site_id": data["site_id"],
        "region_id": data["region_id"],
        "visited_on": data["visited_on"],
        "periods": periods.periods_of(visited),
        "scores": {
            a["question_id"]: a["score"] for a in data["answers"] if a["question_id"] not in CONFIDENCE_QUESTIONS
        },
        # Free text stays inside aggregate's store (themes, latest comments);
        # it never goes into events, logs or metrics from here.
        "comments": {a["question_id"]: a["comment"] for a in data["answers"] if a.get("comment")},
        "working": list(data.get("working", [])),
        "not_working": list(data.get("not_working", [])),
        "received_at": data["received_at"],
        **consent_of(data),
        **confidence_of(data),
    }


def confidence_of(data: dict) -> dict:
    """``{"confidence": score}`` when the check asked the confidence question (None: skipped), else nothing."""
    asked = [a["score"] for a in data["answers"] if a["question_id"] in CONFIDENCE_QUESTIONS]
    return {"confidence": asked[0]} if asked else {}


def sum_confidence(rollups: list[dict]) -> dict:
    """Confidence counts summed over roll-ups (those stored before it existed count nothing)."""
    out = dict.fromkeys(CONFIDENCE_BANDS.values(), 0)
    for rollup in rollups:
        for band, n in (rollup.get("confidence") or {}).items():
            out[band] += n
    return out


def with_share_sure(counts: dict) -> dict:
    """Confidence counts plus the share of "very sure" among those who answered."""
    answered = counts["sure"] + counts["a_bit"] + counts["not_sure"]
    return {**counts, "share_sure": round(counts["sure"] / answered, 3) if answered else None}


def consent_of(data: dict) -> dict:
    """What the checker agreed to: who wrote the answers, and which free text may carry their name.

    Missing fields (events from before consent was asked) take the safe defaults:
    answered alone, every text anonymous. The checker's id is kept only when some
    text was shared with their name, so an anonymous check cannot be traced back.
    """
    shares = {
        "comments": {a["question_id"]: share_of(a.get("share")) for a in data["answers"]},
        "texts": share_of(data.get("texts_share")),
        "urgent_concern": share_of(data.get("urgent_concern_share")),
    }
    named = NAMED in shares["comments"].values() or NAMED in (shares["texts"], shares["urgent_concern"])
    out = {"answered_by": answered_by_of(data.get("answered_by")), "shares": shares}
    if named:
        out["named_checker_id"] = data.get("checker_id")
    return out


def _empty_counts() -> dict:
    return {"good": 0, "ok": 0, "not_good": 0, "skipped": 0}


def _finish(doc: dict) -> dict:
    """Derived figures: mean score (1–3) and share of good over answered questions."""
    answered = doc["answered"]
    doc["score"] = round(doc["score_sum"] / answered, 3) if answered else None
    good = sum(q["good"] for q in doc["questions"].values())
    doc["share_good"] = round(good / answered, 3) if answered else None
    return doc


def site_rollup(site_id: str, region_id: str, period: str, facts: list[dict]) -> dict:
    """One site's roll-up for one period from the facts of that site and period."""
    doc = empty_site_rollup(site_id, region_id, period)
    for fact in facts:
        add_fact(doc, fact)
    return doc


def empty_site_rollup(site_id: str, region_id: str, period: str) -> dict:
    """A site's roll-up for a period that counts no check yet."""
    return _finish(
        {
            "_id": f"site:{site_id}:{period}",
            "scope": "site",
            "site_id": site_id,
            "region_id": region_id,
            "period": period,
            "period_kind": periods.kind_of(period),
            "checks": 0,
            "answered_by": dict.fromkeys(ANSWERED_BY, 0),
            "confidence": dict.fromkeys(CONFIDENCE_BANDS.values(), 0),
            "questions": {},
            "score_sum": 0,
            "answered": 0,
            "latest_received_at": None,
            # The checks it counts, so a fact met again (a redelivery, a replay) is never counted twice, and the
            # regions they were made in (a site may move): each check counts in its own region's sums.
            "fact_ids": [],
            "regions": [],
        }
    )


def add_fact(doc: dict, fact: dict) -> bool:
    """Count one more fact in a site roll-up, unless it counts it already; True when it changed.

    Adding facts one at a time gives exactly what counting them all at once
    does (``site_rollup`` is built this way), so a roll-up kept in memory and
    one recomputed from the stored facts agree.
    """
    if fact["_id"] in doc["fact_ids"]:
        return False
    doc["fact_ids"].append(fact["_id"])
    add_to_site_sum(doc, fact)
    return True


def first_in_region(doc: dict, fact: dict) -> bool:
    """True when a site roll-up has counted no check made in this fact's region yet (its region's
    ``sites_checked`` grows by one when it counts it)."""
    return fact["region_id"] not in doc["regions"]


def add_to_sum(doc: dict, fact: dict, *, first_of_site: bool) -> None:
    """Count a fact that one of its site roll-ups has just counted into a region or organisation sum.

    Site roll-ups only ever gain facts, so a sum kept this way gives what
    ``region_rollup`` (and ``org_rollup``) give from the site roll-ups, without
    holding them: ``first_of_site`` says the site had no check in the period
    before (its ``sites_checked``). The caller adds each fact once, only when
    ``add_fact`` counted it.
    """
    doc["sites_checked"] += 1 if first_of_site else 0
    _count(doc, fact)


def site_sum(site_id: str, region_id: str | None, period: str, parts: list[dict]) -> dict:
    """A site's roll-up for a period made of stored ones (a quarter from its months), summed."""
    doc = region_rollup(region_id, period, parts)
    del doc["sites_checked"]
    doc.update(_id=f"site:{site_id}:{period}", scope="site", site_id=site_id, region_id=region_id)
    doc["updated_at"] = max((p["updated_at"] for p in parts if p.get("updated_at")), default=None)
    doc["regions"] = sorted({region for part in parts for region in part.get("regions", [])})
    return doc


def add_to_site_sum(doc: dict, fact: dict) -> None:
    """Count a fact into a site's roll-up (a summed one, ``site_sum``: a fact one of its parts has just counted);
    the site counts in the region of its latest check."""
    if doc["latest_received_at"] is None or fact["received_at"] >= doc["latest_received_at"]:
        doc["region_id"] = fact["region_id"]
    if fact["region_id"] not in doc["regions"]:
        doc["regions"].append(fact["region_id"])
    _count(doc, fact)


def _count(doc: dict, fact: dict) -> None:
    doc["checks"] += 1
    for question_id, score in fact["scores"].items():
        counts = doc["questions"].setdefault(question_id, _empty_counts())
        counts[BANDS[score]] += 1
        if score is not None:
            doc["score_sum"] += score
            doc["answered"] += 1
    doc["answered_by"][answered_by_of(fact.get("answered_by"))] += 1
    if "confidence" in fact:
        doc["confidence"][CONFIDENCE_BANDS[fact["confidence"]]] += 1
    latest = doc["latest_received_at"]
    doc["latest_received_at"] = max(latest or fact["received_at"], fact["received_at"])
    _finish(doc)


def region_rollup(region_id: str, period: str, site_rollups: list[dict]) -> dict:
    """A region's roll-up for one period: the sum of its sites' roll-ups."""
    questions: dict[str, dict] = {}
    for rollup in site_rollups:
        for question_id, counts in rollup["questions"].items():
            total = questions.setdefault(question_id, _empty_counts())
            for band, n in counts.items():
                total[band] += n
    latest = max((r["latest_received_at"] for r in site_rollups if r["latest_received_at"]), default=None)
    return _finish(
        {
            "_id": f"region:{region_id}:{period}",
            "scope": "region",
            "site_id": None,
            "region_id": region_id,
            "period": period,
            "period_kind": periods.kind_of(period),
            "checks": sum(r["checks"] for r in site_rollups),
            "sites_checked": sum(1 for r in site_rollups if r["checks"]),
            "answered_by": sum_answered_by(site_rollups),
            "confidence": sum_confidence(site_rollups),
            "questions": questions,
            "score_sum": sum(r["score_sum"] for r in site_rollups),
            "answered": sum(r["answered"] for r in site_rollups),
            "latest_received_at": latest,
        }
    )


def sum_answered_by(rollups: list[dict]) -> dict:
    """Checks by who wrote the answers, summed over roll-ups."""
    out = dict.fromkeys(ANSWERED_BY, 0)
    for rollup in rollups:
        # Roll-ups stored before consent was asked have no split: all their checks were "alone".
        for key, n in (rollup.get("answered_by") or {"alone": rollup["checks"]}).items():
            out[key] += n
    return out


def org_rollup(period: str, region_rollups: list[dict]) -> dict:
    """The whole organisation's roll-up for one period: the sum of its regions."""
    doc = region_rollup("all", period, region_rollups)
    doc.update(_id=f"org:all:{period}", scope="org", region_id=None)
    doc["sites_checked"] = sum(r.get("sites_checked", 0) for r in region_rollups)
    return doc


def with_shares(questions: dict) -> dict:
    """Per question counts plus the share of good among those who answered."""
    out = {}
    for question_id, counts in questions.items():
        answered = counts["good"] + counts["ok"] + counts["not_good"]
        out[question_id] = {**counts, "share_good": round(counts["good"] / answered, 3) if answered else None}
    return out


def change(current: dict, previous: dict | None) -> dict:
    """Score and checks against the previous period (None where either has no score)."""
    previous = previous or {"score": None, "checks": 0, "share_good": None}
    return {
        "previous_period_score": previous["score"],
        "previous_period_checks": previous["checks"],
        "score_change": round(current["score"] - previous["score"], 3)
        if current["score"] is not None and previous["score"] is not None
        else None,
    }


def affected_keys(facts: list[dict], kinds=("month",)) -> set[tuple[str, str, str]]:
    """(site_id, region_id, period) for every period of these kinds the facts fall in."""
    return {(f["site_id"], f["region_id"], f["periods"][kind]) for f in facts for kind in kinds}


_ROLLUP_EVENT_FIELDS = (
    *("scope", "site_id", "region_id", "period", "period_kind"),
    *("checks", "score", "share_good", "questions", "latest_received_at"),
)


def rollup_event(rollup: dict) -> dict:
    """The public ``org.qc.rollup.updated`` event for one roll-up."""
    data = {k: rollup[k] for k in _ROLLUP_EVENT_FIELDS}
    data["updated_at"] = events.isoformat(rollup["updated_at"])
    return events.make_event(
        "org.qc.rollup.updated",
        source="qc/aggregate",
        subject=rollup["_id"],
        data=data,
        # Same figures, same id: consumers can drop repeats.
        event_id=f"{rollup['_id']}@{rollup['checks']}",
    )
