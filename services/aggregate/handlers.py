"""Roll-up arithmetic: pure functions from facts to figures.

A roll-up is recomputed from the stored facts rather than incremented, so
a redelivered, duplicated or replayed event can never count twice, and the
order events arrive in does not matter.
"""

from __future__ import annotations

import datetime as dt

from qc import periods

BANDS = {3: "good", 2: "ok", 1: "not_good", None: "skipped"}


def fact_from_validated(data: dict) -> dict:
    """What aggregate keeps of one validated submission."""
    visited = dt.date.fromisoformat(data["visited_on"])
    return {
        "_id": data["submission_id"],
        "site_id": data["site_id"],
        "region_id": data["region_id"],
        "visited_on": data["visited_on"],
        "periods": periods.periods_of(visited),
        "scores": {a["question_id"]: a["score"] for a in data["answers"]},
        # Free text stays inside aggregate's store (themes, latest comments);
        # it never goes into events, logs or metrics from here.
        "comments": {a["question_id"]: a["comment"] for a in data["answers"] if a.get("comment")},
        "working": list(data.get("working", [])),
        "not_working": list(data.get("not_working", [])),
        "received_at": data["received_at"],
    }


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
    questions: dict[str, dict] = {}
    score_sum = answered = 0
    latest = None
    for fact in facts:
        for question_id, score in fact["scores"].items():
            counts = questions.setdefault(question_id, _empty_counts())
            counts[BANDS[score]] += 1
            if score is not None:
                score_sum += score
                answered += 1
        latest = max(latest or fact["received_at"], fact["received_at"])
    return _finish(
        {
            "_id": f"site:{site_id}:{period}",
            "scope": "site",
            "site_id": site_id,
            "region_id": region_id,
            "period": period,
            "period_kind": periods.kind_of(period),
            "checks": len(facts),
            "questions": questions,
            "score_sum": score_sum,
            "answered": answered,
            "latest_received_at": latest,
        }
    )


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
            "questions": questions,
            "score_sum": sum(r["score_sum"] for r in site_rollups),
            "answered": sum(r["answered"] for r in site_rollups),
            "latest_received_at": latest,
        }
    )


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


def affected_keys(facts: list[dict]) -> set[tuple[str, str, str]]:
    """(site_id, region_id, period) for every period the facts fall in."""
    return {(f["site_id"], f["region_id"], p) for f in facts for p in f["periods"].values()}
