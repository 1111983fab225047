"""What managers read: roll-ups with change, trends, coverage, region overview, themes (free text: texts.py).

Read-side only. Everything here is derived from the facts and roll-ups at
read time, so a replay that rebuilds them needs nothing else.
"""

from __future__ import annotations

import datetime as dt

from qc import periods, themes
from services.aggregate.rules import rollups as rollup_rules
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.fix_feedback import Feedback
from services.aggregate.stores.rollups import RollupStore, facts_in

_HIDDEN = ("_id", "score_sum", "answered", "updated_at")


class Reports:
    """Read models over one RollupStore and the site directory."""

    def __init__(self, store: RollupStore, directory: SiteDirectory, theme_list: list[themes.Theme]):
        self.store = store
        self.directory = directory
        self.themes = theme_list

    def rollup(self, scope: str, entity_id: str, period: str) -> dict:
        """A roll-up (zeros when nothing was checked) with per-question shares and change."""
        current = self._stored_or_empty(scope, entity_id, period)
        previous = self.store.rollup(scope, entity_id, periods.previous(period))
        out = {k: v for k, v in current.items() if k not in _HIDDEN}
        out["questions"] = rollup_rules.with_shares(current["questions"])
        out["answered_by"] = rollup_rules.sum_answered_by([current])
        out["confidence"] = rollup_rules.with_share_sure(rollup_rules.sum_confidence([current]))
        out.update(rollup_rules.change(current, previous))
        out["fixes"] = Feedback(self.store.facts.database).counts(scope, entity_id, period)
        out["updated_at"] = current["updated_at"].isoformat() if current.get("updated_at") else None
        return out

    def _stored_or_empty(self, scope: str, entity_id: str, period: str) -> dict:
        stored = self.store.rollup(scope, entity_id, period)
        if stored:
            return stored
        if scope == "site":
            site = self.directory.site(entity_id) or {}
            return rollup_rules.site_rollup(entity_id, site.get("region_id"), period, [])
        if scope == "region":
            return rollup_rules.region_rollup(entity_id, period, [])
        return rollup_rules.org_rollup(period, [])

    def trend(self, scope: str, entity_id: str, last: str, count: int = 12) -> list[dict]:
        """The last ``count`` periods up to ``last``, oldest first, zeros where unchecked; with confidence."""
        names = periods.series(last, count)
        stored = self.store.rollups_by_id([f"{scope}:{entity_id}:{p}" for p in names])
        out = []
        for name in names:
            rollup = stored.get(f"{scope}:{entity_id}:{name}")
            out.append(
                {
                    "period": name,
                    "checks": rollup["checks"] if rollup else 0,
                    "score": rollup["score"] if rollup else None,
                    "share_good": rollup["share_good"] if rollup else None,
                    "confidence": rollup_rules.with_share_sure(rollup_rules.sum_confidence([rollup] if rollup else [])),
                }
            )
        return out

    def coverage_grid(self, region_id: str, last_month: str, count: int = 12) -> dict:
        """Checks per active site of a region and month, for the last ``count`` months up to ``last_month``.

        Read month by month (one ``_id`` look-up of the region's sites each): a region has ~125 sites,
        and long ``$in`` lists cost this database more than a few short ones.
        """
        sites = self.directory.sites_in_region(region_id)
        months = periods.series(last_month, count)
        found: dict[str, dict] = {}
        for month in months:
            found.update(self.store.rollups_by_id([f"site:{s['_id']}:{month}" for s in sites]))
        rows = [
            {
                "site_id": s["_id"],
                "name": s["name"],
                "cells": [(found.get(f"site:{s['_id']}:{m}") or {}).get("checks", 0) for m in months],
            }
            for s in sorted(sites, key=lambda s: s["name"])
        ]
        return {"months": months, "rows": rows}

    def last_visits(self, region_id: str) -> dict[str, str]:
        """Each site's most recent visit date in a region (ISO dates)."""
        pipeline = [
            {"$match": {"region_id": region_id}},
            {"$group": {"_id": "$site_id", "last": {"$max": "$visited_on"}}},
        ]
        return {row["_id"]: row["last"] for row in self.store.facts.aggregate(pipeline)}

    def overview(self, region_id: str, period: str, today: dt.date) -> list[dict]:
        """One row per active site of a region: figures, change, last check, checker coverage."""
        sites = self.directory.sites_in_region(region_id)
        ids = [s["_id"] for s in sites]
        now = self.store.rollups_by_id([f"site:{i}:{period}" for i in ids])
        before = self.store.rollups_by_id([f"site:{i}:{periods.previous(period)}" for i in ids])
        last = self.last_visits(region_id)
        with_checker = self.directory.sites_with_active_checker(ids)
        rows = []
        for site in sites:
            current = now.get(f"site:{site['_id']}:{period}") or {"checks": 0, "score": None, "share_good": None}
            previous = before.get(f"site:{site['_id']}:{periods.previous(period)}")
            last_visit = last.get(site["_id"])
            rows.append(
                {
                    "site_id": site["_id"],
                    "name": site["name"],
                    "checks": current["checks"],
                    "score": current["score"],
                    "share_good": current["share_good"],
                    **rollup_rules.change(current, previous),
                    "last_check_on": last_visit,
                    "days_since_last_check": (today - dt.date.fromisoformat(last_visit)).days if last_visit else None,
                    "has_active_checker": site["_id"] in with_checker,
                }
            )
        return rows

    def coverage(self, region_id: str, period: str, today: dt.date) -> dict:
        """Sites with no check in the period, sites with no active checker, days since last check."""
        rows = self.overview(region_id, period, today)
        slim = [{k: r[k] for k in ("site_id", "name", "last_check_on", "days_since_last_check")} for r in rows]
        return {
            "region_id": region_id,
            "period": period,
            "sites": len(rows),
            "sites_checked": sum(1 for r in rows if r["checks"]),
            "sites_without_check": [s for s, r in zip(slim, rows, strict=True) if not r["checks"]],
            "sites_without_active_checker": [s for s, r in zip(slim, rows, strict=True) if not r["has_active_checker"]],
            "days_since_last_check": {r["site_id"]: r["days_since_last_check"] for r in rows},
        }

    def themes_for(self, period: str, region_id: str | None = None, site_id: str | None = None) -> dict:
        """Themes of what is working / not working in a period, for a site, a region or everyone."""
        query = facts_in(period)
        if region_id:
            query["region_id"] = region_id
        if site_id:
            query["site_id"] = site_id
        facts = list(self.store.facts.find(query, {"working": 1, "not_working": 1}))
        return {
            "period": period,
            "region_id": region_id,
            "site_id": site_id,
            "submissions": len(facts),
            **themes.group(facts, self.themes),
        }
