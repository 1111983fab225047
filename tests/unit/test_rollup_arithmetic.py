"""Roll-up figures checked against an independent recount of generated submissions."""

import datetime as dt
import random
import uuid
from collections import Counter, defaultdict

from services.aggregate.rules import rollups as rollup_rules

QUESTIONS = ["listened-to", "feel-safe", "home-clean", "respect"]


def _generated(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        site = f"S{rng.randint(1, 6):04d}"
        out.append(
            {
                "submission_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "site_id": site,
                "region_id": "R01" if site <= "S0003" else "R02",
                "visited_on": (dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 120))).isoformat(),
                "answers": [
                    {"question_id": q, "score": rng.choice([1, 2, 3, None]), "safety": False} for q in QUESTIONS
                ],
                "received_at": "2026-06-01T00:00:00.000Z",
            }
        )
        # Some from before consent was asked (no field: alone), the rest as the checker said.
        choice = rng.choice([None, "alone", "with_supporter", "supporter_wrote"])
        if choice:
            out[-1]["answered_by"] = choice
    return out


def test_site_and_region_rollups_match_an_independent_recount():
    subs = _generated(400)
    facts = [rollup_rules.fact_from_validated(s) for s in subs]
    # Independent recount, straight from the submissions.
    bands = {1: "not_good", 2: "ok", 3: "good", None: "skipped"}
    expected_counts = defaultdict(Counter)
    expected_scores = defaultdict(list)
    for s in subs:
        month = s["visited_on"][:7]
        for a in s["answers"]:
            for scope in (("site", s["site_id"]), ("region", s["region_id"])):
                expected_counts[(scope, month, a["question_id"])][bands[a["score"]]] += 1
                if a["score"] is not None:
                    expected_scores[(scope, month)].append(a["score"])

    site_rollups = defaultdict(list)
    for site, region, period in sorted(rollup_rules.affected_keys(facts)):
        if "-W" in period or "-Q" in period:
            continue
        matching = [f for f in facts if f["site_id"] == site and f["periods"]["month"] == period]
        rollup = rollup_rules.site_rollup(site, region, period, matching)
        site_rollups[(region, period)].append(rollup)
        scores = expected_scores[(("site", site), period)]
        assert rollup["checks"] == sum(1 for s in subs if s["site_id"] == site and s["visited_on"][:7] == period)
        assert rollup["answered_by"] == _answered_by(
            s for s in subs if s["site_id"] == site and s["visited_on"][:7] == period
        )
        assert rollup["score"] == round(sum(scores) / len(scores), 3)
        for q in QUESTIONS:
            assert rollup["questions"][q] == {
                b: expected_counts[(("site", site), period, q)][b] for b in ("good", "ok", "not_good", "skipped")
            }
    for (region, period), rollups in site_rollups.items():
        region_rollup = rollup_rules.region_rollup(region, period, rollups)
        scores = expected_scores[(("region", region), period)]
        assert region_rollup["score"] == round(sum(scores) / len(scores), 3)
        good = sum(expected_counts[(("region", region), period, q)]["good"] for q in QUESTIONS)
        assert region_rollup["share_good"] == round(good / len(scores), 3)
        assert region_rollup["checks"] == sum(
            1 for s in subs if s["region_id"] == region and s["visited_on"][:7] == period
        )
        in_region = [s for s in subs if s["region_id"] == region and s["visited_on"][:7] == period]
        assert region_rollup["answered_by"] == _answered_by(in_region)
        assert sum(region_rollup["answered_by"].values()) == region_rollup["checks"]


def _answered_by(subs) -> dict:
    counted = Counter(s.get("answered_by", "alone") for s in subs)
    return {k: counted[k] for k in ("alone", "with_supporter", "supporter_wrote")}


def test_consent_defaults_to_alone_and_anonymous_and_keeps_no_checker_id():
    fact = rollup_rules.fact_from_validated({**_generated(1)[0], "checker_id": "C9"})
    assert fact["answered_by"] == "alone"
    assert fact["shares"]["texts"] == fact["shares"]["urgent_concern"] == "anonymous"
    assert set(fact["shares"]["comments"].values()) == {"anonymous"}
    assert "named_checker_id" not in fact and "C9" not in str(fact)


def test_the_checker_id_is_kept_only_when_something_is_shared_with_their_name():
    sub = {**_generated(1)[0], "checker_id": "C9", "answered_by": "supporter_wrote", "texts_share": "named"}
    sub["answers"][1]["share"] = "named"
    fact = rollup_rules.fact_from_validated(sub)
    assert fact["named_checker_id"] == "C9" and fact["answered_by"] == "supporter_wrote"
    assert fact["shares"]["comments"] == {q: "named" if q == "feel-safe" else "anonymous" for q in QUESTIONS}
    only_concern = rollup_rules.fact_from_validated(
        {**_generated(1)[0], "checker_id": "C9", "urgent_concern_share": "named"}
    )
    assert only_concern["named_checker_id"] == "C9"


def test_a_region_counts_site_rollups_from_before_the_split_as_alone():
    old = {**rollup_rules.site_rollup("S0001", "R01", "2026-11", []), "checks": 4}
    del old["answered_by"]
    new = rollup_rules.site_rollup(
        "S0002",
        "R01",
        "2026-11",
        [{"_id": "f1", "region_id": "R01", "scores": {}, "received_at": "x", "answered_by": "with_supporter"}],
    )
    region = rollup_rules.region_rollup("R01", "2026-11", [old, new])
    assert region["answered_by"] == {"alone": 4, "with_supporter": 1, "supporter_wrote": 0}
    assert rollup_rules.org_rollup("2026-11", [region])["answered_by"] == region["answered_by"]


def test_facts_added_one_by_one_in_any_order_and_again_count_as_a_recount_does():
    """The worker's roll-ups held in memory grow a fact at a time, with redeliveries: the figures are a recount's."""
    facts = [rollup_rules.fact_from_validated(s) for s in _generated(300, seed=11)]
    rng = random.Random(3)
    arrivals = facts + rng.sample(facts, 60)  # some met again: redelivered after a crash, or replayed
    rng.shuffle(arrivals)
    held = {}
    for fact in arrivals:
        for period in fact["periods"].values():
            key = (fact["site_id"], fact["region_id"], period)
            doc = held.setdefault(key, rollup_rules.empty_site_rollup(*key))
            rollup_rules.add_fact(doc, fact)
    assert len(held) == len(rollup_rules.affected_keys(facts, kinds=rollup_rules.periods.KINDS))
    for (site, region, period), doc in held.items():
        kind = rollup_rules.periods.kind_of(period)
        recount = rollup_rules.site_rollup(
            site, region, period, [f for f in facts if f["site_id"] == site and f["periods"][kind] == period]
        )
        assert {k: v for k, v in doc.items() if k != "fact_ids"} == {
            k: v for k, v in recount.items() if k != "fact_ids"
        }
        assert sorted(doc["fact_ids"]) == sorted(recount["fact_ids"])


def test_a_site_quarter_summed_from_its_months_or_grown_with_them_is_a_recount_of_the_quarter():
    """A site's quarter is not stored: readers sum its months, the worker grows the sum by what its months newly
    count (redeliveries are not counted). Both give what counting the quarter's facts gives."""
    facts = [rollup_rules.fact_from_validated(s) for s in _generated(300, seed=17)]
    rng = random.Random(5)
    arrivals = facts + rng.sample(facts, 40)
    rng.shuffle(arrivals)
    months, grown = {}, {}
    for fact in arrivals:
        key = (fact["site_id"], fact["region_id"], fact["periods"]["month"])
        quarter_id = (fact["site_id"], fact["periods"]["quarter"])
        quarter = grown.setdefault(quarter_id, rollup_rules.site_sum(fact["site_id"], key[1], quarter_id[1], []))
        if rollup_rules.add_fact(months.setdefault(key, rollup_rules.empty_site_rollup(*key)), fact):
            rollup_rules.add_to_site_sum(quarter, fact)
    assert len(grown) > 10
    for (site, quarter), doc in grown.items():
        parts = [d for (s, _r, p), d in months.items() if s == site and p in rollup_rules.periods.months_of(quarter)]
        region = parts[0]["region_id"]
        summed = rollup_rules.site_sum(site, region, quarter, parts)
        recount = rollup_rules.site_rollup(
            site, region, quarter, [f for f in facts if f["site_id"] == site and f["periods"]["quarter"] == quarter]
        )
        figures = ("checks", "score", "share_good", "questions", "answered_by", "confidence", "latest_received_at")
        assert {k: summed[k] for k in figures} == {k: recount[k] for k in figures}
        assert {k: doc[k] for k in figures} == {k: recount[k] for k in figures}
        assert summed["_id"] == f"site:{site}:{quarter}" and summed["scope"] == "site" and summed["checks"] > 0


def test_sums_grown_a_fact_at_a_time_are_the_sums_of_their_site_rollups():
    """The worker keeps region and organisation sums by adding the facts its site roll-ups newly count
    (redeliveries are not added): the figures are what summing the site roll-ups gives."""
    facts = [rollup_rules.fact_from_validated(s) for s in _generated(300, seed=5)]
    for fact in facts[::7]:
        fact["confidence"] = 2  # some asked "Do you think things will get better here?"
    rng = random.Random(9)
    arrivals = facts + rng.sample(facts, 50)
    rng.shuffle(arrivals)
    sites, regions, orgs = {}, {}, {}
    for fact in arrivals:
        for period in fact["periods"].values():
            key = (fact["site_id"], fact["region_id"], period)
            site = sites.setdefault(key, rollup_rules.empty_site_rollup(*key))
            first = site["checks"] == 0
            if rollup_rules.add_fact(site, fact):
                region = regions.setdefault((key[1], period), rollup_rules.region_rollup(key[1], period, []))
                rollup_rules.add_to_sum(region, fact, first_of_site=first)
                rollup_rules.add_to_sum(
                    orgs.setdefault(period, rollup_rules.org_rollup(period, [])), fact, first_of_site=first
                )
    for (region_id, period), doc in regions.items():
        members = [d for (_s, r, p), d in sites.items() if r == region_id and p == period]
        assert doc == rollup_rules.region_rollup(region_id, period, members)
    for period, doc in orgs.items():
        members = [d for (r, p), d in regions.items() if p == period]
        assert doc == rollup_rules.org_rollup(period, members)
    assert sum(d["checks"] for d in orgs.values()) == len(facts) * 3  # each fact once in its week, month, quarter


def test_an_empty_period_has_no_score_rather_than_zero():
    rollup = rollup_rules.site_rollup("S0001", "R01", "2026-11", [])
    assert rollup["checks"] == 0 and rollup["score"] is None and rollup["share_good"] is None


def test_late_submission_lands_in_the_period_of_its_visit():
    fact = rollup_rules.fact_from_validated(
        {**_generated(1)[0], "visited_on": "2026-03-31", "received_at": "2026-05-02T10:00:00.000Z"}
    )
    assert fact["periods"] == {"week": "2026-W14", "month": "2026-03", "quarter": "2026-Q1"}
