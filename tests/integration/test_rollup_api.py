"""aggregate's API and pages over the real database: figures, trends, coverage, themes, scoping, CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import uuid

import pytest

from qc import auth, events, mongo
from qc.kafka import Publisher, make_producer
from services.aggregate.bootstrap import create_app
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.rollups import RollupStore
from services.aggregate.worker import AggregateHandler
from tests import builders

pytestmark = pytest.mark.integration


def _event(site, region, visited_on, scores, working=(), not_working=()):
    data = {
        "submission_id": str(uuid.uuid4()),
        "site_id": site,
        "region_id": region,
        "visited_on": visited_on,
        "answers": [
            {"question_id": q, "score": s, "comment": "c" if s == 1 else "", "safety": False}
            for q, s in zip(("listened-to", "respect"), scores, strict=True)
        ],
        "working": list(working),
        "not_working": list(not_working),
        "received_at": "2026-11-10T10:00:00.000Z",
    }
    return events.make_event("org.qc.submission.validated", source="t", subject="s", data=data)


@pytest.fixture
def app(settings):
    application = create_app(dataclasses.asdict(settings))
    db = mongo.connect(settings, "qc-tests")
    directory = SiteDirectory(db)
    directory.apply({"entity": "region", "id": "R01", "name": "North West", "active": True})
    for i, region in ((1, "R01"), (2, "R01"), (3, "R01"), (4, "R02")):
        directory.apply({"entity": "site", "id": f"S{i}", "name": f"Site {i}", "region_id": region, "active": True})
    directory.apply({"entity": "person", "id": "C1", "role": "checker", "site_id": "S1", "active": True})
    directory.apply({"entity": "person", "id": "C2", "role": "checker", "site_id": "S2", "active": False})
    store = RollupStore(db)
    store.ensure_indexes()
    publisher = Publisher(make_producer(settings, "t"), source="t", timeout=10)
    handler = AggregateHandler(store, directory, publisher)
    handler.handle(
        builders.deliveries(
            _event("S1", "R01", "2026-10-05", (1, 1)),
            _event("S1", "R01", "2026-11-03", (3, 3), working=["Lovely food"], not_working=["The heating is broken"]),
            _event("S2", "R01", "2026-11-04", (2, None), working=["nice meals", "a trip to the seaside"]),
            _event("S4", "R02", "2026-11-05", (1, 2)),
        )
    )
    publisher.close()
    yield application
    application.extensions["qc.close"]()
    db.client.drop_database(settings.mongo_db)
    db.client.close()


def _headers(settings, **principal):
    token = auth.issue_manager_token(settings.secret_key, auth.Principal(**principal))
    return {"Authorization": f"Bearer {token}"}


def test_site_rollup_has_shares_and_change_against_last_month(app, settings):
    rm = _headers(settings, username="rm", role="regional_manager", region_id="R01")
    body = app.test_client().get("/api/v1/rollups/sites/S1?period=2026-11", headers=rm).json
    assert (body["checks"], body["score"], body["previous_period_score"], body["score_change"]) == (1, 3.0, 1.0, 2.0)
    assert body["questions"]["respect"] == {"good": 1, "ok": 0, "not_good": 0, "skipped": 0, "share_good": 1.0}


def test_org_rollup_is_for_organisation_wide_roles_only(app, settings):
    client = app.test_client()
    admin = _headers(settings, username="a", role="org_admin")
    assert client.get("/api/v1/rollups/org?period=2026-11", headers=admin).json["checks"] == 3
    rm = _headers(settings, username="rm", role="regional_manager", region_id="R01")
    assert client.get("/api/v1/rollups/org?period=2026-11", headers=rm).status_code == 403


def test_trend_of_twelve_months_with_gaps(app, settings):
    rm = _headers(settings, username="rm", role="regional_manager", region_id="R01")
    body = app.test_client().get("/api/v1/rollups/regions/R01/trend?period=2026-11", headers=rm).json
    assert [p["period"] for p in body["trend"]][-2:] == ["2026-10", "2026-11"] and len(body["trend"]) == 12
    assert [p["checks"] for p in body["trend"]][-3:] == [0, 1, 2]
    assert body["trend"][0]["score"] is None


def test_coverage_names_unchecked_sites_and_sites_without_checker(app, settings):
    rm = _headers(settings, username="rm", role="regional_manager", region_id="R01")
    body = app.test_client().get("/api/v1/coverage?region_id=R01&period=2026-11", headers=rm).json
    assert [s["site_id"] for s in body["sites_without_check"]] == ["S3"]
    assert [s["site_id"] for s in body["sites_without_active_checker"]] == ["S2", "S3"]
    assert body["days_since_last_check"]["S3"] is None and body["days_since_last_check"]["S1"] >= 0


def test_themes_group_the_free_text(app, settings):
    rm = _headers(settings, username="rm", role="regional_manager", region_id="R01")
    body = app.test_client().get("/api/v1/themes?region_id=R01&period=2026-11", headers=rm).json
    food = next(t for t in body["working"] if t["theme"] == "food")
    assert (food["mentions"], food["submissions"]) == (2, 2)
    assert [t["theme"] for t in body["not_working"]] == ["home"]


def test_overview_csv_is_a_spreadsheet_of_the_region(app, settings):
    rm = _headers(settings, username="rm", role="regional_manager", region_id="R01")
    response = app.test_client().get("/api/v1/regions/R01/overview?period=2026-11&format=csv", headers=rm)
    assert response.content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["site_id"] for r in rows] == ["S1", "S2", "S3"] and rows[0]["score"] == "3.0"


@pytest.mark.parametrize(
    "principal,url,status",
    [
        ({"role": "regional_manager", "region_id": "R01"}, "/api/v1/rollups/sites/S4", 403),
        ({"role": "regional_manager", "region_id": "R01"}, "/api/v1/coverage?region_id=R02", 403),
        ({"role": "regional_manager", "region_id": "R01"}, "/api/v1/themes", 403),
        ({"role": "site_manager", "region_id": "R01", "site_id": "S1"}, "/api/v1/rollups/sites/S2", 403),
        ({"role": "site_manager", "region_id": "R01", "site_id": "S1"}, "/api/v1/rollups/regions/R01", 403),
        ({"role": "site_manager", "region_id": "R01", "site_id": "S1"}, "/api/v1/rollups/sites/S1", 200),
        ({"role": "site_manager", "region_id": "R01", "site_id": "S1"}, "/api/v1/sites/S1/comments", 200),
        ({"role": "org_admin"}, "/api/v1/rollups/regions/R02/trend", 200),
        ({"role": "regional_manager", "region_id": "R01"}, "/api/v1/rollups/sites/S9", 404),
        ({"role": "regional_manager", "region_id": "R01"}, "/api/v1/rollups/sites/S1?period=2026-13", 400),
        ({"role": "regional_manager", "region_id": "R01"}, "/api/v1/rollups/regions/R01/trend?count=0", 400),
    ],
)
def test_access_is_scoped_by_role_and_region(app, settings, principal, url, status):
    headers = _headers(settings, username="x", **principal)
    assert app.test_client().get(url, headers=headers).status_code == status


def test_pages_need_a_session_and_show_the_sortable_region(app, settings):
    client = app.test_client()
    response = client.get("/manager/regions/R01?period=2026-11")
    assert response.status_code == 303 and "/manager/sign-in?next=" in response.headers["Location"]
    token = auth.issue_manager_token(settings.secret_key, auth.Principal("rm", "regional_manager", region_id="R01"))
    client.set_cookie("qc_manager", token)
    page = client.get("/manager/regions/R01?period=2026-11&sort=score&dir=desc").get_data(as_text=True)
    assert page.index('data-site="S1"') < page.index('data-site="S2"') < page.index('data-site="S3"')
    assert "Food and meals" in page and 'aria-sort="descending"' in page
    by_days = client.get("/manager/regions/R01?period=2026-11&sort=days&dir=desc").get_data(as_text=True)
    assert by_days.index('data-site="S3"') < by_days.index('data-site="S1"')  # never checked comes first
    assert client.get("/manager/regions/R02").status_code == 403
    assert client.get("/manager").headers["Location"].endswith("/manager/regions/R01")
    # An anonymous text of a site one person checked is withheld, and the page says why (test_anonymous_texts.py).
    site_page = client.get("/manager/sites/S1?period=2026-11").get_data(as_text=True)
    assert "The heating is broken" not in site_page and "fewer than 3 different people" in site_page
    # The cookie only ever authorises reads.
    assert client.post("/api/v1/rollups/sites/S1").status_code in (401, 405)


def test_pages_say_the_questions_words_and_the_regions_name_not_their_codes(app, settings):
    client = app.test_client()
    token = auth.issue_manager_token(settings.secret_key, auth.Principal("rm", "regional_manager", region_id="R01"))
    client.set_cookie("qc_manager", token)
    site_page = client.get("/manager/sites/S1?period=2026-11").get_data(as_text=True)
    # Pictures first, each with a title, a description and its figures behind "Show the figures".
    assert 'data-chart="score-trend"' in site_page and 'data-chart="sure-trend"' in site_page
    assert '<desc id="answers-d">Do staff listen to you? good 1. Do staff treat you with respect? good 1.' in site_page
    assert site_page.index("<summary>Show the figures</summary>") < site_page.index('id="questions-table"')
    table = site_page[site_page.index('id="questions-table"') :]
    assert "Do staff listen to you?" in table and "<td>listened-to</td>" not in table
    assert ">North West</a>" in site_page and "Region R01" not in site_page
    # The period in words, picked from links and a list, never typed as a code.
    assert "Showing <strong>November 2026</strong>" in site_page and "Answers in November 2026" in site_page
    assert '<option value="2026-11" selected>November 2026</option>' in site_page
    assert ">This month</a>" in site_page and "YYYY-MM" not in site_page
    # Each question answered "not good", and each thing not working, can be made into an action (on notify).
    october = client.get("/manager/sites/S1?period=2026-10").get_data(as_text=True)
    new_action = (
        f"{settings.notify_public_url}/manager/actions/new?site_id=S1&amp;about=question:respect&amp;period=2026-10"
    )
    assert new_action in october and "(1 said not good)" in october
    assert "about=theme:" in site_page and "Make an action<span" in site_page
    theme_page = client.get("/manager/themes/working/food?site_id=S1&period=2026-11").get_data(as_text=True)
    assert "at Site 1." in theme_page and "Back to Site 1</a>" in theme_page and "at site S1" not in theme_page
    region_page = client.get("/manager/regions/R01?period=2026-11").get_data(as_text=True)
    assert "<h1>North West</h1>" in region_page
    # A "not working" theme across the region can be made into an action about the whole region.
    assert f"{settings.notify_public_url}/manager/actions/new?region_id=R01&amp;about=theme:" in region_page
    # Coverage as a grid: each site's checks month by month (S1: one in October, one in November).
    row = re.search(r'data-grid-site="S1">(.*?)</tr>', region_page, re.S).group(1)
    cells = re.findall(r'<td class="num cell [^"]+">([^<]+)</td>', row)
    assert len(cells) == 12 and cells[-2:] == ["1", "1"] and cells[:-2] == ["–"] * 10
    assert re.search(r'data-grid-site="S3">.*?</tr>', region_page, re.S).group(0).count("cell--none") == 12
    # A region the directory has not named (yet) is still said plainly.
    admin = auth.issue_manager_token(settings.secret_key, auth.Principal("ad", "org_admin"))
    client.set_cookie("qc_manager", admin)
    org_page = client.get("/manager/org?period=2026-11").get_data(as_text=True)
    assert ">North West</a>" in org_page and ">Region R02</a>" in org_page
