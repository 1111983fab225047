"""The managers' home, "Needs you today", over the real database: what each manager sees, in what order, and
that a worry's words never reach it (only "A quality checker raised an urgent concern", as in the inbox)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from qc import events
from services.notify.bootstrap import create_app
from tests import builders
from tests.conftest import manager_client

pytestmark = pytest.mark.integration
WORRY = "The night manager takes our money"
DAY = dt.timedelta(days=1)


@pytest.fixture
def world(db, settings, publisher):
    """Elm Court (S0001, R01) with a worry and a "not good" to safety; Ash Lodge (S0002, R01) checked today;
    Birch House (S0003, R02) never checked in 50 days. Only Elm Court has an active checker."""
    handler = builders.notify_handler(db, settings, publisher)
    today = events.now().date()
    for site, name, region in (("S0002", "Ash Lodge", "R01"), ("S0003", "Birch House", "R02")):
        handler.knowledge.apply_directory(
            {"entity": "site", "id": site, "name": name, "region_id": region, "active": True}
        )
    handler.knowledge.apply_directory(
        {"entity": "person", "id": "C1", "name": "C1", "role": "checker", "site_id": "S0001", "active": True}
    )
    handler.handle(builders.deliveries(builders.validated(urgent_concern=WORRY), builders.validated(scores=(1, 1, 1))))
    # A worry at Birch House, in another region: for its own managers and the organisation only.
    handler.handle(builders.deliveries(builders.validated(site="S0003", region="R02", urgent_concern="Birch worry")))
    # Hazel Lodge (R03): checked today, with a checker, nothing raised: its manager has nothing to do.
    hazel = {"entity": "site", "id": "S0004", "name": "Hazel Lodge", "region_id": "R03", "active": True}
    handler.knowledge.apply_directory(hazel)
    handler.knowledge.apply_directory(
        {"entity": "person", "id": "C4", "name": "C4", "role": "checker", "site_id": "S0004", "active": True}
    )
    sites = db["notify_sites"]
    sites.update_one({"_id": "S0001"}, {"$set": {"last_visited_on": (today - 60 * DAY).isoformat()}})
    sites.update_one({"_id": "S0002"}, {"$set": {"last_visited_on": today.isoformat()}})
    sites.update_one({"_id": "S0003"}, {"$set": {"first_seen_on": (today - 50 * DAY).isoformat()}})
    sites.update_one({"_id": "S0003"}, {"$unset": {"last_visited_on": ""}})  # never checked (its worry came alone)
    sites.update_one({"_id": "S0004"}, {"$set": {"last_visited_on": today.isoformat()}})
    app = create_app(dataclasses.asdict(settings))
    yield app, db
    app.extensions["qc.close"]()


def _page(app, settings, **principal) -> str:
    response = manager_client(app, settings, **principal).get("/manager/today")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _list(page: str, name: str) -> str:
    return re.search(rf'data-list="{name}">(.*?)</section>', page, re.S).group(1)


def test_a_regional_manager_sees_their_region_most_pressing_first_and_never_a_worrys_words(world, settings):
    app, db = world
    page = _page(app, settings, username="rm1", role="regional_manager", region_id="R01")
    assert "Needs you today" in page and WORRY not in page
    waiting = _list(page, "not-looked-at")
    # Critical before high; each links to its alert page.
    worry, safety = (
        db["alerts"].find_one({"rule": "urgent_concern"}),
        db["alerts"].find_one({"rule": "safety_not_good"}),
    )
    assert waiting.index(worry["_id"]) < waiting.index(safety["_id"])
    assert (
        f'href="/manager/alerts/{worry["_id"]}"' in waiting and "A quality checker raised an urgent concern" in waiting
    )
    assert "1 critical, 1 high" in waiting
    grid = page[page.index("data-age-grid") : page.index('data-list="not-looked-at"')]
    assert re.search(r"sev-critical\">critical</span></th>\s*<td[^>]*>1</td>", grid), "raised today: counted there"
    # Both escalate within a day unless acknowledged, the worry first (30 minutes).
    escalating = _list(page, "escalating")
    assert escalating.index(worry["_id"]) < escalating.index(safety["_id"])
    assert "passed to the regional manager and the safeguarding lead" in escalating  # the worry's escalate_to
    overdue = _list(page, "overdue")
    assert "Elm Court" in overdue and "checked every month; last checked 8 weeks ago" in overdue
    assert re.search(r"due \w+day \d+ \w+, <strong>(29|30|31) days late</strong>", overdue)  # a month after it
    assert "Ash Lodge" not in overdue and "Birch House" not in overdue  # checked today / another region
    assert f"{settings.aggregate_public_url}/manager/sites/S0001" in overdue
    assert "Ash Lodge" in _list(page, "no-checker") and "Elm Court" not in _list(page, "no-checker")
    birch = db["alerts"].find_one({"site_id": "S0003"})
    assert birch["_id"] not in page, "another region's alert stays with its own managers"


def test_a_site_manager_sees_only_their_site_and_the_organisation_sees_every_site(world, settings):
    app, _db = world
    page = _page(app, settings, username="sm1", role="site_manager", region_id="R01", site_id="S0001")
    assert "Ash Lodge" not in page and "Birch House" not in page and WORRY not in page
    assert "Elm Court" in _list(page, "overdue")
    lead = _page(app, settings, username="sg1", role="safeguarding_lead")
    overdue = _list(lead, "overdue")
    assert "never checked yet" in overdue and overdue.index("Elm Court") < overdue.index("Birch House")
    assert WORRY not in lead


def test_acknowledged_for_a_week_and_not_better_have_their_own_lists(world, settings):
    app, db = world
    alerts = db["alerts"]
    worry, safety = alerts.find_one({"rule": "urgent_concern"}), alerts.find_one({"rule": "safety_not_good"})
    long_ago = events.now() - 8 * DAY
    alerts.update_one({"_id": safety["_id"]}, {"$set": {"status": "acknowledged", "acknowledged_at": long_ago}})
    alerts.update_one({"_id": worry["_id"]}, {"$set": {"reopened_at": events.now() - DAY}})
    page = _page(app, settings, username="rm1", role="regional_manager", region_id="R01")
    assert safety["_id"] in _list(page, "in-hand") and "acknowledged 8 days ago" in _list(page, "in-hand")
    assert worry["_id"] in _list(page, "not-better") and "opened again yesterday" in _list(page, "not-better")
    assert "Nothing here." in _list(page, "not-looked-at")


def test_nothing_waiting_says_so_plainly(world, settings):
    app, _db = world
    page = _page(app, settings, username="rm3", role="regional_manager", region_id="R03")
    assert "data-all-clear" in page and "Nothing needs you today" in page
    assert "Hazel Lodge" not in page  # checked today, with a checker: on no list
    busy = _page(app, settings, username="rm1", role="regional_manager", region_id="R01")
    assert "data-all-clear" not in busy
