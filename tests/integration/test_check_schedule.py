"""How often each service is checked, set on a page by the regional manager, published to the directory, and
used by notify's home page: a weekly service is overdue after a week, a quarterly one not after a month.

Its regions and sites have ids of their own: what it publishes reaches the shared broker's directory topic,
which the end-to-end tier's services read too."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from qc.settings import TOPICS
from services.checks.bootstrap import create_app as checks_app
from services.checks.jobs.directory_events import directory_event
from services.checks.stores.directory import Directory
from services.notify.bootstrap import create_app as notify_app
from services.notify.stores.knowledge import Knowledge
from tests.conftest import csrf_of, manager_client, read_topic

pytestmark = pytest.mark.integration
RM1 = {"username": "rm1", "role": "regional_manager", "region_id": "R91"}


@pytest.fixture
def apps(settings, db):
    directory = Directory(db)
    for region, name in (("R91", "North"), ("R92", "South")):
        directory.upsert("region", {"_id": region, "name": name, "active": True})
    for site, name, region in (("S9101", "Elm Court", "R91"), ("S9102", "Ash Lodge", "R91"), ("S9103", "Far", "R92")):
        directory.upsert("site", {"_id": site, "name": name, "region_id": region, "active": True})
    managers = (
        ("rm1", "regional_manager", {"region_id": "R91"}),
        ("sm1", "site_manager", {"site_id": "S9101", "region_id": "R91"}),
    )
    for username, role, area in managers:
        person = {"_id": username.upper(), "name": username, "username": username, "role": role, "active": True}
        directory.upsert("person", {**person, **area})
    checks, notify = checks_app(dataclasses.asdict(settings)), notify_app(dataclasses.asdict(settings))
    yield checks, notify
    checks.extensions["qc.close"]()
    notify.extensions["qc.close"]()


def _form(page: str) -> dict[str, str]:
    """The form's current choices, by field name."""
    chosen = {}
    for name, options in re.findall(
        r'<select class="select" id="[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', page, re.S
    ):
        selected = re.search(r'<option value="([^"]*)" selected>', options)
        chosen[name] = selected.group(1) if selected else ""
    return chosen


def test_a_regional_manager_sets_their_regions_schedule_and_notify_counts_overdue_by_it(apps, settings, db):
    checks, notify = apps
    client = manager_client(checks, settings, **RM1)
    page = client.get("/manager/schedule")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Every service in North" in text
    assert "Elm Court" in text and "Ash Lodge" in text and "Far" not in text  # their region's services only
    assert _form(text) == {"region": "month", "site-S9101": "", "site-S9102": ""}
    body = {"csrf_token": csrf_of(page), "region_id": "R91", "region": "quarter", "site-S9101": "week"}
    wrong = client.post("/manager/schedule", data={**body, "site-S9102": "daily"})
    assert wrong.status_code == 400 and "Choose how often this service is checked" in wrong.get_data(as_text=True)
    assert db["regions"].find_one({"_id": "R91"}).get("check_interval") is None, "nothing saved"
    saved = client.post("/manager/schedule", data=body)
    assert saved.status_code == 303
    after = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "data-saved" in after and _form(after) == {"region": "quarter", "site-S9101": "week", "site-S9102": ""}

    # Published: notify learns it from qc.directory as it learns everything else.
    def published(evs):  # what changed, and only that (Ash Lodge kept its region's)
        seen = {(e["data"]["id"], e["data"].get("check_interval")) for e in evs}
        return {("R91", "quarter"), ("S9101", "week")} <= seen

    told = [e for e in read_topic(settings, TOPICS["directory"], published) if e["data"]["id"] in ("R91", "S9101")]
    assert not any(e["data"]["id"] == "S9102" for e in told), "unchanged: not published again"
    knowledge = Knowledge(db)
    # Ash Lodge as notify knew it before (the directory's first publication), then what the save told.
    ash = directory_event("site", Directory(db).site("S9102"), secret_key=settings.secret_key)
    for event in (ash, *told):
        knowledge.apply_directory(event["data"])
    today = dt.date.today()
    knowledge.sites.update_one(
        {"_id": "S9101"}, {"$set": {"last_visited_on": (today - dt.timedelta(days=10)).isoformat()}}
    )
    knowledge.sites.update_one(
        {"_id": "S9102"}, {"$set": {"last_visited_on": (today - dt.timedelta(days=40)).isoformat()}}
    )
    home = manager_client(notify, settings, **RM1).get("/manager/today").get_data(as_text=True)
    overdue = re.search(r'data-list="overdue">(.*?)</section>', home, re.S).group(1)
    assert "Elm Court" in overdue and "checked every week" in overdue and "3 days late" in overdue
    assert "Ash Lodge" not in overdue, "every three months, as its region: 40 days is not late"
    assert "/manager/schedule" in overdue
    # A directory file imported again keeps what the page set, unless it says otherwise.
    directory = Directory(db)
    directory.upsert("site", {"_id": "S9101", "name": "Elm Court", "region_id": "R91", "active": True})
    assert directory.site("S9101")["check_interval"] == "week"
    directory.upsert("site", {"_id": "S9101", "name": "Elm Court", "region_id": "R91", "check_interval": None})
    assert directory.site("S9101")["check_interval"] is None


def test_only_those_who_may_set_it_can_and_others_are_told_who_does(apps, settings):
    checks, _notify = apps
    site_manager = manager_client(
        checks, settings, username="sm1", role="site_manager", region_id="R91", site_id="S9101"
    )
    refused = site_manager.get("/manager/schedule")
    assert refused.status_code == 403 and "Your regional manager decides" in refused.get_data(as_text=True)
    other = manager_client(checks, settings, username="rm2", role="regional_manager", region_id="R92")
    assert other.get("/manager/schedule?region_id=R91").status_code == 404
    admin = manager_client(checks, settings, username="admin", role="org_admin")
    choose = admin.get("/manager/schedule").get_data(as_text=True)
    assert "Choose a region" in choose and "region_id=R91" in choose and "region_id=R92" in choose
    assert "Every service in South" in admin.get("/manager/schedule?region_id=R92").get_data(as_text=True)
