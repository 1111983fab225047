"""Staff team feedback, confidence and the Working Together for Change pack over the real database."""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import re
from collections import defaultdict

import pytest

from qc import auth, mongo, web
from services.aggregate.bootstrap import create_app
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.rollups import RollupStore
from services.aggregate.worker import AggregateHandler
from tests import builders
from tests.scenarios import coproduction
from tests.scenarios.coproduction import BANDS, CHECKS, CONFIDENCE, HIDDEN_COMMENT, KEY, NOT_ENOUGH, PACK_CHECKS

pytestmark = pytest.mark.integration


def _expected(site: str, min_people: int = 3) -> dict:
    """The team feedback cells recounted from CHECKS: {(question, month): figures or None when withheld}."""
    answers, people = defaultdict(lambda: dict.fromkeys(BANDS.values(), 0)), defaultdict(set)
    for event in CHECKS:
        data = event["data"]
        if data["site_id"] != site:
            continue
        for answer in data["answers"]:
            if answer["question_id"] in KEY and answer["score"] is not None:
                cell = (answer["question_id"], data["visited_on"][:7])
                answers[cell][BANDS[answer["score"]]] += 1
                people[cell].add(data["checker_id"])
    return {cell: (dict(answers[cell]) if len(people[cell]) >= min_people else None) for cell in answers}


@pytest.fixture
def world(settings):
    db = mongo.connect(settings, "qc-tests")
    directory = SiteDirectory(db)
    for site, region in (("S1", "R01"), ("S2", "R01"), ("S3", "R02")):
        directory.apply({"entity": "site", "id": site, "name": f"Site {site}", "region_id": region, "active": True})
    directory.apply(
        {"entity": "person", "id": "c1", "name": "Alice Example", "role": "checker", "site_id": "S1", "active": True}
    )
    store = RollupStore(db)
    store.ensure_indexes()
    AggregateHandler(store, directory, publisher=None).handle(builders.deliveries(*CHECKS))
    apps = []

    def app(**overrides):
        application = create_app({**dataclasses.asdict(settings), **overrides})
        apps.append(application)
        return application

    yield {"app": app, "db": db, "store": store, "directory": directory}
    for application in apps:
        application.extensions["qc.close"]()
    db.client.drop_database(settings.mongo_db)
    db.client.close()


def _page_client(app, settings, role="regional_manager", **claims):
    client = app.test_client()
    token = auth.issue_manager_token(settings.secret_key, auth.Principal("someone", role, **claims))
    client.set_cookie(web.MANAGER_COOKIE, token)
    return client


def _bearer(settings, role="regional_manager", **claims):
    token = auth.issue_manager_token(settings.secret_key, auth.Principal("someone", role, **claims))
    return {"Authorization": f"Bearer {token}"}


def _csv(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.content_type == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8"))))


# --- staff team feedback ----------------------------------------------------------------------------


def test_team_feedback_figures_match_an_independent_count_and_withhold_small_months(world, settings):
    app = world["app"]()
    expected = _expected("S1")
    assert expected[("listened-to", "2026-10")] is None  # one person, three answers
    assert expected[("respect", "2026-11")] is None  # two people
    assert expected[("listened-to", "2026-11")] == {"good": 2, "ok": 1, "not_good": 1}
    body = app.test_client().get(
        "/api/v1/sites/S1/team-feedback?period=2026-11", headers=_bearer(settings, region_id="R01")
    )
    assert body.status_code == 200, body.get_data(as_text=True)
    report = body.json
    assert report["min_answers"] == 3 and [q["id"] for q in report["questions"]] == list(KEY)
    for q in report["questions"]:
        assert q["month"] == q["trend"][-1] and len(q["trend"]) == 12
        for cell in q["trend"]:
            want = expected.get((q["id"], cell["period"]))
            if want is None:
                assert cell["shown"] is False and cell["note"] == NOT_ENOUGH
                assert all(cell[k] is None for k in ("good", "ok", "not_good", "answers", "share_good")), cell
            else:
                assert cell["shown"] is True and {k: cell[k] for k in want} == want
                assert cell["answers"] == sum(want.values())
                assert cell["share_good"] == round(want["good"] / sum(want.values()), 3)
    listened = report["questions"][0]
    # The comment of a shown month, with the phone number taken out; none of a withheld month's.
    assert listened["comments"] == ["They listen, ring me on [phone number removed]"]
    assert report["questions"][1]["comments"] == []
    assert HIDDEN_COMMENT not in body.get_data(as_text=True)
    assert "Alice Example" not in body.get_data(as_text=True) and '"c1"' not in body.get_data(as_text=True)


def test_withheld_months_stay_withheld_in_the_page_and_the_csv(world, settings):
    app = world["app"]()
    client = _page_client(app, settings, role="site_manager", region_id="R01", site_id="S1")
    page = client.get("/manager/sites/S1/team-feedback?period=2026-11").get_data(as_text=True)
    assert "Do you feel that we have listened to you and know the things that are most important to you?" in page
    assert HIDDEN_COMMENT not in page and "07700" not in page and "Alice Example" not in page
    # Each withheld month's row is its month and the note, with no figure.
    rows = re.findall(r'<tr data-month="([\d-]+)" class="withheld-row">(.*?)</tr>', page, re.S)
    expected = _expected("S1")
    assert len(rows) == sum(1 for q in KEY for m in _months("2026-11") if expected.get((q, m)) is None)
    for month, row in rows:
        assert re.sub(r"<[^>]+>", " ", row).split() == [month, *NOT_ENOUGH.split()]
    assert f"{NOT_ENOUGH}</strong> in 2026-11" in page  # respect, this month
    links = re.findall(r'<a href="([^"]+)" download>', page)
    assert len(links) == 1
    table = _csv(client.get(html.unescape(links[0])))
    assert len(table) == 2 * 12
    for row in table:
        want = expected.get((row["question_id"], row["period"]))
        if want is None:
            assert row["note"] == NOT_ENOUGH
            assert [row[k] for k in ("good", "ok", "not_good", "answers", "share_good")] == [""] * 5, row
        else:
            assert row["note"] == "" and {k: int(row[k]) for k in want} == want
    api_csv = app.test_client().get(
        "/api/v1/sites/S1/team-feedback?period=2026-11&format=csv", headers=_bearer(settings, region_id="R01")
    )
    assert _csv(api_csv) == table


def _months(last):
    from qc import periods

    return periods.series(last, 12)


def test_no_figure_adds_up_months_so_nothing_can_be_subtracted(world, settings):
    app = world["app"]()
    rm = _bearer(settings, region_id="R01")
    client = app.test_client()
    # Only months may be asked for: a quarter would include October's withheld answers.
    for period in ("2026-Q4", "2026-W45"):
        response = client.get(f"/api/v1/sites/S1/team-feedback?period={period}", headers=rm)
        assert response.status_code == 400 and response.content_type == "application/problem+json"
        assert response.json["errors"][0]["field"] == "period"
        page = _page_client(app, settings, region_id="R01").get(f"/manager/sites/S1/team-feedback?period={period}")
        assert page.status_code == 400
    # The same month reads the same wherever it appears: withheld in every view whose trend includes it.
    for last in ("2026-10", "2026-11", "2027-03"):
        report = client.get(f"/api/v1/sites/S1/team-feedback?period={last}", headers=rm).json
        october = next(c for c in report["questions"][0]["trend"] if c["period"] == "2026-10")
        assert october["shown"] is False and october["answers"] is None
        # No totals: the only figures are the cells (the report carries nothing else numeric but the rule).
        assert set(report) == {"site_id", "period", "min_answers", "questions"}
        assert {k for q in report["questions"] for k in q} == {
            "id",
            "question",
            "team_wording",
            "month",
            "trend",
            "comments",
        }


def test_the_minimum_is_a_setting(world, settings):
    app = world["app"](team_feedback_min_answers=2)
    report = (
        app.test_client()
        .get("/api/v1/sites/S1/team-feedback?period=2026-11", headers=_bearer(settings, region_id="R01"))
        .json
    )
    respect = report["questions"][1]["month"]
    assert respect["shown"] is True and (respect["good"], respect["ok"], respect["not_good"]) == (1, 1, 1)
    assert report["questions"][1]["comments"] == [HIDDEN_COMMENT]
    october = report["questions"][0]["trend"][-2]
    assert october["note"] == "Not enough answers to show (fewer than 2 people)"


def test_filing_who_answered_twice_counts_nobody_twice(world, settings):
    handler = AggregateHandler(world["store"], world["directory"], publisher=None)
    handler.handle(builders.deliveries(*CHECKS[:4]))
    before = handler.answerers.people("S1", _months("2026-11"))
    handler.handle(builders.deliveries(*reversed(CHECKS)))
    assert handler.answerers.people("S1", _months("2026-11")) == before
    assert before[("2026-11", "listened-to")] == 3 and before[("2026-10", "listened-to")] == 1
    stored = world["db"]["agg_team_answerers"].find_one({"site_id": "S1"})
    assert set(stored) == {"_id", "site_id", "month", "questions"} and stored["_id"] not in ("c1", "c2", "c3")


def test_a_question_answered_later_in_the_month_is_filed_though_the_person_was_filed_already(world, settings):
    """The worker remembers whom it filed (no write for a check that answers the same questions again),
    but a question the same person answers for the first time that month still counts them."""
    handler = AggregateHandler(world["store"], world["directory"], publisher=None)
    handler.handle(
        builders.deliveries(coproduction.check("S5", "2026-11-02", "c9", {"listened-to": 3, "respect": None}))
    )
    handler.handle(
        builders.deliveries(coproduction.check("S5", "2026-11-03", "c9", {"listened-to": 2, "respect": None}))
    )
    assert handler.answerers.people("S5", _months("2026-11")).get(("2026-11", "respect")) is None
    handler.handle(builders.deliveries(coproduction.check("S5", "2026-11-09", "c9", {"listened-to": 2, "respect": 1})))
    people = handler.answerers.people("S5", _months("2026-11"))
    assert people[("2026-11", "respect")] == 1 and people[("2026-11", "listened-to")] == 1


@pytest.mark.parametrize(
    "who,url,status",
    [
        ({"region_id": "R02"}, "/manager/sites/S1/team-feedback", 403),
        ({"role": "site_manager", "region_id": "R01", "site_id": "S2"}, "/manager/sites/S1/team-feedback", 403),
        ({"region_id": "R01"}, "/manager/sites/S9/team-feedback", 404),
        ({"role": "site_manager", "region_id": "R01", "site_id": "S1"}, "/manager/sites/S1/team-feedback", 200),
        ({"region_id": "R02"}, "/manager/regions/R01/wtfc-pack", 403),
        ({"role": "site_manager", "region_id": "R01", "site_id": "S1"}, "/manager/regions/R01/wtfc-pack", 403),
        ({"region_id": "R02"}, "/manager/regions/R01/wtfc-pack?format=csv", 403),
        ({"region_id": "R01"}, "/manager/regions/R01/wtfc-pack?format=csv", 200),
        ({"role": "org_admin"}, "/manager/regions/R01/wtfc-pack", 200),
    ],
)
def test_pages_are_scoped_like_the_site_and_region_pages(world, settings, who, url, status):
    response = _page_client(world["app"](), settings, **who).get(url)
    assert response.status_code == status


def test_the_team_feedback_api_is_scoped_like_the_site(world, settings):
    client = world["app"]().test_client()
    url = "/api/v1/sites/{}/team-feedback?period=2026-11"
    assert client.get(url.format("S1"), headers=_bearer(settings, region_id="R02")).status_code == 403
    assert client.get(url.format("S9"), headers=_bearer(settings, region_id="R01")).status_code == 404
    sm = _bearer(settings, role="site_manager", region_id="R01", site_id="S1")
    assert client.get(url.format("S1"), headers=sm).status_code == 200
    assert client.get(url.format("S2"), headers=sm).status_code == 403


# --- confidence -----------------------------------------------------------------------------------


def test_confidence_is_counted_per_site_and_region_and_kept_out_of_the_score(world, settings):
    client = world["app"]().test_client()
    rm = _bearer(settings, region_id="R01")
    site = client.get("/api/v1/rollups/sites/S1?period=2026-11", headers=rm).json
    assert site["confidence"] == {"sure": 2, "a_bit": 1, "not_sure": 1, "skipped": 0, "share_sure": 0.5}
    # The score and the per-question counts are the quality questions' only.
    scores = [
        a["score"]
        for e in CHECKS
        if e["data"]["site_id"] == "S1" and e["data"]["visited_on"].startswith("2026-11")
        for a in e["data"]["answers"]
        if a["question_id"] != CONFIDENCE and a["score"] is not None
    ]
    assert site["score"] == round(sum(scores) / len(scores), 3) and CONFIDENCE not in site["questions"]
    region = client.get("/api/v1/rollups/regions/R01?period=2026-11", headers=rm).json
    assert region["confidence"] == {"sure": 2, "a_bit": 1, "not_sure": 2, "skipped": 0, "share_sure": 0.4}
    trend = client.get("/api/v1/rollups/sites/S1/trend?period=2026-11&count=3", headers=rm).json["trend"]
    assert [(p["period"], p["confidence"]["sure"], p["confidence"]["skipped"]) for p in trend] == [
        ("2026-09", 0, 0),  # v1: nobody was asked
        ("2026-10", 0, 1),
        ("2026-11", 2, 0),
    ]
    assert trend[1]["confidence"]["share_sure"] == 0.0 and trend[0]["confidence"]["share_sure"] is None
    org = client.get("/api/v1/rollups/org?period=2026-11", headers=_bearer(settings, role="org_admin")).json
    assert org["confidence"]["sure"] == 3
    page = _page_client(world["app"](), settings, region_id="R01")
    for url in ("/manager/sites/S1?period=2026-11", "/manager/regions/R01?period=2026-11"):
        text = page.get(url).get_data(as_text=True)
        assert "Do people think things will get better here?" in text and "data-confidence" in text
    trend_csv = _csv(page.get("/manager/sites/S1?period=2026-11&format=csv&table=trend"))
    assert (trend_csv[-1]["sure"], trend_csv[-1]["share_sure"]) == ("2", "0.5")


# --- Working Together for Change ------------------------------------------------------------------


def test_the_pack_has_the_themes_counts_and_scrubbed_quotes_without_names(world, settings):
    handler = AggregateHandler(world["store"], world["directory"], publisher=None)
    handler.handle(builders.deliveries(*PACK_CHECKS))
    app = world["app"]()
    client = _page_client(app, settings, region_id="R01")
    region = client.get("/manager/regions/R01?period=2026-11").get_data(as_text=True)
    assert 'href="/manager/regions/R01/wtfc-pack?period=2026-11"' in region
    page = client.get("/manager/regions/R01/wtfc-pack?period=2026-11").get_data(as_text=True)
    assert "@page { size: A4" in page and "<h1>Working Together for Change</h1>" in page
    for kept_out in ("Alice Example", "al@example.org", "0161 496 0000", "R02 is great", "Site S1", "2026-11-06"):
        assert kept_out not in page, kept_out
    assert html.escape("The food is lovely, email me at [e-mail removed]") in page
    assert html.escape("Nobody answers the phone, call [phone number removed]") in page
    assert "Ideas for the future" in page and "Not collected yet" in page
    # The counts are the region's theme counts; at most three quotes per theme, no repeats.
    counts = (
        app.test_client()
        .get("/api/v1/themes?region_id=R01&period=2026-11", headers=_bearer(settings, region_id="R01"))
        .json
    )
    food = next(t for t in counts["working"] if t["theme"] == "food")
    article = re.search(r'<article class="theme" data-theme="food">(.*?)</article>', page, re.S).group(1)
    assert f"<strong>{food['mentions']}</strong> mentions in <strong>{food['submissions']}</strong> checks" in article
    quotes = re.findall(r"<blockquote><p>“(.*?)”</p></blockquote>", article)
    assert len(quotes) == 3 and len(set(quotes)) == 3
    assert food["mentions"] == 6
    table = _csv(client.get("/manager/regions/R01/wtfc-pack?period=2026-11&format=csv"))
    assert {(r["question"], r["theme"]): (int(r["mentions"]), int(r["checks"])) for r in table} == {
        ("What is working" if k == "working" else "What is not working", t["theme"]): (t["mentions"], t["submissions"])
        for k in ("working", "not_working")
        for t in counts[k]
    }
    assert "quotes" not in table[0] and "Alice" not in str(table)
