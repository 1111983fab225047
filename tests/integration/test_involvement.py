"""The involvement report for a board: counted from the people, their time and training, and the checks' records.

Through the real database and broker: checks are decided by the checks worker as in production (its events
go to the shared broker, so this region and its sites have ids no end-to-end test uses); the report is read
as a regional manager, as a CSV and as the A4 version, and refused to those it is not for.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io

import pytest

from qc import periods
from qc.handler import Delivery
from services.checks.bootstrap import create_app as checks_app
from services.checks.stores.contributions import Contributions
from services.checks.stores.directory import Directory
from services.checks.stores.submissions import Submissions
from services.checks.worker import ChecksHandler
from tests import builders
from tests.conftest import manager_client

pytestmark = pytest.mark.integration
TODAY = dt.date.today()
QUARTER = periods.current("quarter", TODAY)
RM = {"username": "rm98", "role": "regional_manager", "region_id": "R98"}


@pytest.fixture
def world(settings, db, publisher):
    directory = Directory(db)
    directory.upsert("region", {"_id": "R98", "name": "Fenland", "active": True})
    for site in ("S9801", "S9802", "S9803"):
        directory.upsert("site", {"_id": site, "name": f"Reed {site}", "region_id": "R98", "active": True})
    today, long_ago = TODAY.isoformat(), "2020-01-01"
    people = (
        ("C98a", "S9801", True, {"consent": {"on": today, "how": "form"}, "invited": {"on": today, "by": "rm98"}}),
        ("C98b", "S9802", False, {"invited": {"on": long_ago, "by": "rm98"}, "stopped": {"on": today, "reason": "x"}}),
        ("C98c", "S9802", True, {"consent": {"on": long_ago, "how": "form"}}),
    )
    for person_id, site, active, record in people:
        person = {"_id": person_id, "name": person_id, "role": "checker", "site_id": site, "active": active}
        directory.upsert("person", {**person, "record": record})
    contributions = Contributions(db)
    for person_id, kind, hours in (("C98a", "training", 3), ("C98a", "check_visit", 2), ("C98c", "training", 1.5)):
        contributions.collection.insert_one(
            {"_id": f"{person_id}-{kind}", "checker_id": person_id, "site_id": "S9801", "date": today, "kind": kind}
            | {"hours": hours, "title": "", "added_by": "rm98"}
        )
    Submissions(db).ensure_indexes()
    v3 = {"id": "everyday-life", "version": 3}

    def check(checker, site, sure, themes=()):
        answers = [
            {"question_id": "respect", "score": 1, "comment": ""},
            {"question_id": "things-will-get-better", "score": sure, "comment": ""},
        ]
        return builders.received(site, checker_id=checker, question_set=v3, answers=answers, not_working=list(themes))

    sent = [
        check("C98a", "S9801", 3, ["The food is cold"]),
        check("C98c", "S9802", 1, ["The food is cold again", "The garden is locked"]),
        check("C98a", "S9801", 3),  # another check of the same day, with other answers: not a duplicate
    ]
    ChecksHandler(settings, db, publisher).handle([Delivery(record=None, event=e) for e in sent])
    app = checks_app(dataclasses.asdict(settings))
    yield app, len(sent)
    app.extensions["qc.close"]()


def test_the_report_counts_people_time_checks_and_what_was_said_without_a_name(settings, world):
    app, checks = world
    page = manager_client(app, settings, **RM).get(f"/manager/involvement?period={QUARTER}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and f"How people were involved: Fenland, {periods.words(QUARTER)}" in body
    summary = body[body.index("data-summary") : body.index('id="the-checkers"')]
    assert "2 people were quality checkers at the end. 1 started and 1 stopped." in summary
    assert f"They did {checks} checks, at 2 of 3 services." in summary
    assert "They gave 6.5 hours. 2 people went to training." in summary
    assert "food and meals" in summary.lower()
    assert f"{round(100 * (checks - 1) / checks)}% said they think things will get better" in summary
    assert "C98a" not in body and "cold" not in body  # no names, no words anyone wrote

    rows = list(
        csv.DictReader(
            io.StringIO(
                manager_client(app, settings, **RM)
                .get(f"/manager/involvement?period={QUARTER}&format=csv")
                .get_data(as_text=True)
            )
        )
    )
    assert {"section": "checks", "measure": "checks", "value": str(checks)} in rows
    assert {"section": "people", "measure": "stopped", "value": "1"} in rows
    printable = manager_client(app, settings, **RM).get(f"/manager/involvement?period={QUARTER}&format=print")
    assert printable.status_code == 200 and "report-print" in printable.get_data(as_text=True)


def test_the_report_is_for_regional_managers_and_the_organisation_wide_roles(settings, world):
    app, _checks = world
    other = {"username": "rm99", "role": "regional_manager", "region_id": "R99"}
    assert manager_client(app, settings, **other).get("/manager/involvement?region_id=R98").status_code == 404
    site_manager = {"username": "sm", "role": "site_manager", "region_id": "R98", "site_id": "S9801"}
    assert manager_client(app, settings, **site_manager).get("/manager/involvement").status_code == 403
    lead = {"username": "lead", "role": "involvement_lead"}
    everyone = manager_client(app, settings, **lead).get(f"/manager/involvement?period={QUARTER}")
    assert everyone.status_code == 200 and "the whole organisation" in everyone.get_data(as_text=True)
    assert manager_client(app, settings, **lead).get("/manager/involvement?period=2026-13").status_code == 404
