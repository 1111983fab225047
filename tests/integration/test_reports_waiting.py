"""Right-of-reply reports reach the managers' home page: aggregate tells each change, notify lists what waits.

Through the real broker and database: a regional manager prepares a report at aggregate (the change is
published as ``org.qc.report.changed`` on qc.reports); notify keeps it and "Needs you today" shows the site
managers whose reply it waits for, and the regional manager how many have replied or that it is ready to
publish; once published it leaves both. Its region and sites have ids of their own: the events go to the
shared broker, which the end-to-end tier's notify reads too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from qc import auth, events, periods, web
from qc.handler import Delivery
from qc.settings import TOPICS
from services.aggregate.bootstrap import create_app as aggregate_app
from services.aggregate.jobs import report_events
from services.aggregate.stores.directory import SiteDirectory
from services.notify.bootstrap import create_app as notify_app
from services.notify.stores.reports import Reports
from tests import builders
from tests.conftest import manager_client, read_topic

pytestmark = pytest.mark.integration
PERIOD = periods.current("month", dt.date.today())
REPORT_ID = f"R95:{PERIOD}"
MANAGERS = {
    "rm95": {"role": "regional_manager", "region_id": "R95"},
    "sm9501": {"role": "site_manager", "region_id": "R95", "site_id": "S9501"},
    "sm9502": {"role": "site_manager", "region_id": "R95", "site_id": "S9502"},
}


@pytest.fixture
def world(settings, db, publisher):
    aggregate = aggregate_app(dataclasses.asdict(settings))
    directory = SiteDirectory(db)
    for site in ("S9501", "S9502"):
        directory.apply({"entity": "site", "id": site, "name": f"Site {site}", "region_id": "R95", "active": True})
    notify = builders.notify_handler(db, settings, publisher)
    notify.knowledge.apply_directory({"entity": "region", "id": "R95", "name": "East"})
    home = notify_app(dataclasses.asdict(settings))
    yield aggregate, notify, home
    aggregate.extensions["qc.close"]()
    home.extensions["qc.close"]()


def _post(settings, app, who: str, path: str, **form):
    """A form sent to aggregate with ``who``'s session and its CSRF token."""
    token = auth.issue_manager_token(settings.secret_key, auth.Principal(who, **MANAGERS[who]))
    client = app.test_client()
    client.set_cookie(web.MANAGER_COOKIE, token)
    return client.post(path, data={**form, "csrf_token": web.manager_csrf_token(settings, token)})


def _tell_notify(settings, notify, count: int) -> dict:
    """The report's changes published so far (at least ``count``), handed to notify's worker; the last."""
    found = read_topic(
        settings, TOPICS["reports"], lambda evs: sum(e["data"].get("report_id") == REPORT_ID for e in evs) >= count
    )
    mine = [e for e in found if e["data"]["report_id"] == REPORT_ID]
    for event in mine:
        events.validate(event, schemas_dir=settings.schemas_dir)
    notify.handle([Delivery(record=None, event=e) for e in mine])
    return mine[-1]


def _waiting(settings, home, who: str) -> str:
    """The "Reports waiting for a reply" section of ``who``'s home page."""
    page = manager_client(home, settings, username=who, **MANAGERS[who]).get("/manager/today").get_data(as_text=True)
    return re.search(r'data-list="reports">(.*?)</section>', page, re.S).group(1)


def test_a_report_waits_on_the_home_page_of_whoever_must_act_until_it_is_published(settings, world):
    aggregate, notify, home = world
    report = f"/manager/regions/R95/reports/{PERIOD}"
    assert _post(settings, aggregate, "rm95", "/manager/regions/R95/reports", period=PERIOD).status_code == 303
    event = _tell_notify(settings, notify, 1)
    assert event["data"]["site_ids"] == ["S9501", "S9502"] and event["data"]["replied_site_ids"] == []
    for who in ("sm9501", "sm9502"):
        line = _waiting(settings, home, who)
        assert f'data-report="{REPORT_ID}"' in line and "waits for your reply" in line and f"{report}#reply-h" in line
        assert "East: the report for" in line
    assert "2 sites have not replied yet" in _waiting(settings, home, "rm95")

    reply = _post(settings, aggregate, "sm9501", f"{report}/replies/S9501", reply="A new cook started.")
    assert reply.status_code == 303
    event = _tell_notify(settings, notify, 2)
    assert event["data"]["replied_site_ids"] == ["S9501"] and "cook" not in str(event)  # never what was written
    assert "Nothing here." in _waiting(settings, home, "sm9501")
    assert "waits for your reply" in _waiting(settings, home, "sm9502")
    assert "1 site has not replied yet" in _waiting(settings, home, "rm95")

    assert _post(settings, aggregate, "sm9502", f"{report}/replies/S9502", reply="Fine.").status_code == 303
    _tell_notify(settings, notify, 3)
    assert "ready to publish</strong> (every site replied)" in _waiting(settings, home, "rm95")
    assert _post(settings, aggregate, "rm95", f"{report}/publish").status_code == 303
    assert _tell_notify(settings, notify, 4)["data"]["status"] == "published"
    assert "Nothing here." in _waiting(settings, home, "rm95")


def test_a_change_the_broker_did_not_take_is_told_by_the_worker_and_an_older_one_never_wins(settings, db, world):
    aggregate, notify, _home = world
    # Prepared while the broker was down: stored, marked not told.
    aggregate.extensions["qc.aggregate"].right_of_reply.tell = lambda doc: False
    assert _post(settings, aggregate, "rm95", "/manager/regions/R95/reports", period=PERIOD).status_code == 303
    assert db["agg_reports"].find_one({"_id": REPORT_ID})["told"] is False
    report_events.job(settings, db)()  # the aggregate worker's job
    _tell_notify(settings, notify, 1)
    assert db["agg_reports"].find_one({"_id": REPORT_ID})["told"] is True
    reports = Reports(db)
    [kept] = reports.drafts({"region_id": "R95"})
    older = {
        **report_events.changed_event(db["agg_reports"].find_one({"_id": REPORT_ID}))["data"],
        "status": "published",
        "at": events.isoformat(kept["at"] - dt.timedelta(minutes=1)),
    }
    reports.apply(older)  # a redelivered, earlier change
    assert [d["status"] for d in reports.drafts({"region_id": "R95"})] == ["draft"]
