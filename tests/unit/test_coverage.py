"""Coverage on the managers' pages: a rolling window, so the 1st of the month is not a wall of red."""

from services.aggregate.web import tables


def test_coverage_looks_back_thirty_days_not_only_at_the_period():
    def row(site, checks, days, checker=True):
        return {"site_id": site, "checks": checks, "days_since_last_check": days, "has_active_checker": checker}

    rows = [row("S1", 0, 12), row("S2", 0, 31), row("S3", 0, None), row("S4", 2, 3, checker=False), row("S5", 1, 0)]
    gaps = {r["site_id"]: r for r in tables.coverage(rows)}
    # S1 has nothing "this month" yet (the 1st), but was checked 12 days ago: not a gap.
    assert sorted(gaps) == ["S2", "S3", "S4"]
    assert gaps["S4"]["checked_in_last_30_days"] and not gaps["S2"]["checked_in_last_30_days"]
    assert set(tables.COVERAGE) <= set(gaps["S2"]) | {"name", "last_check_on"}
