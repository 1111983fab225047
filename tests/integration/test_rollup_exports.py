"""aggregate's tables as CSV, the texts behind each theme, and what consent lets a manager read (real database)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
from collections import Counter

import pytest

from qc import auth, mongo, web
from services.aggregate.bootstrap import create_app
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.rollups import RollupStore
from services.aggregate.web import pages
from services.aggregate.worker import AggregateHandler
from tests import builders
from tests.builders import SHY_CHECKER, csv_rows, validated_check

pytestmark = pytest.mark.integration
# Ids that would stand out anywhere in a page, a CSV or a JSON answer.
NAMED_CHECKER = "chk-named-7f3a"
NAMED_NAME = "Alice Example"


CHECKS = [
    # Named comment on one question, anonymous texts: the two must not end up side by side.
    validated_check(
        "S1",
        "R01",
        "2026-11-03",
        checker=NAMED_CHECKER,
        comments=("Staff are kind to me", "Nobody knocks on my door"),
        shares=("named", "anonymous"),
        working=["Lovely food"],
        not_working=['=HYPERLINK("http://evil.example","click")'],
        texts_share="anonymous",
        answered_by="with_supporter",
    ),
    # Everything shared with the name.
    validated_check(
        "S1",
        "R01",
        "2026-11-12",
        checker=NAMED_CHECKER,
        working=["The meals are tasty"],
        texts_share="named",
        answered_by="supporter_wrote",
    ),
    # No consent fields at all (an event from before they existed): anonymous, alone.
    validated_check(
        "S2", "R01", "2026-11-04", comments=("+44 123 call me", ""), working=["nice meals", "\tfood trips"]
    ),
    validated_check(
        "S4", "R02", "2026-11-05", checker=NAMED_CHECKER, working=["Good food in R02"], texts_share="named"
    ),
]


@pytest.fixture
def app(settings, monkeypatch):
    # "Checked in the last 30 days" counts from today: the checks above are recent on the day the pages are read.
    monkeypatch.setattr(pages, "today", lambda: dt.date(2026, 11, 20))
    # One checker per site here: anonymous texts are shown whatever the numbers (test_anonymous_texts.py
    # tests the minimum of different checkers below which they are withheld).
    application = create_app({**dataclasses.asdict(settings), "team_feedback_min_answers": 1})
    db = mongo.connect(settings, "qc-tests")
    directory = SiteDirectory(db)
    for i, region in ((1, "R01"), (2, "R01"), (3, "R01"), (4, "R02")):
        directory.apply({"entity": "site", "id": f"S{i}", "name": f"Site {i}", "region_id": region, "active": True})
    for checker, name, site in ((NAMED_CHECKER, NAMED_NAME, "S1"), (SHY_CHECKER, "Bob Shy", "S2")):
        directory.apply(
            {"entity": "person", "id": checker, "name": name, "role": "checker", "site_id": site, "active": True}
        )
    store = RollupStore(db)
    store.ensure_indexes()
    AggregateHandler(store, directory, publisher=None).handle(builders.deliveries(*CHECKS))
    yield application
    application.extensions["qc.close"]()
    db.client.drop_database(settings.mongo_db)
    db.client.close()


def _client(app, settings, username="rm", role="regional_manager", **claims):
    client = app.test_client()
    client.set_cookie(
        web.MANAGER_COOKIE, auth.issue_manager_token(settings.secret_key, auth.Principal(username, role, **claims))
    )
    return client


def _bearer(settings, username="rm", role="regional_manager", **claims):
    token = auth.issue_manager_token(settings.secret_key, auth.Principal(username, role, **claims))
    return {"Authorization": f"Bearer {token}"}


def _csv_links(page: str) -> list[str]:
    """Every "Download this table (CSV)" link of a page."""
    found = re.findall(r'<a href="([^"]+)" download>Download this table \(CSV\)</a>', page)
    return [html.unescape(u) for u in found]


# --- CSV of every table ---------------------------------------------------------------------------

PAGES = [
    # (page, who, the tables it must offer, a column each table's CSV must have)
    ("/manager/org?period=2026-11", {"role": "org_admin"}, {"regions": "region_id"}),
    (
        "/manager/regions/R01?period=2026-11",
        {"region_id": "R01"},
        {"sites": "site_id", "coverage": "site_id", "themes": "theme", "trend": "period"},
    ),
    (
        "/manager/sites/S1?period=2026-11",
        {"region_id": "R01"},
        {"questions": "question_id", "comments": "text", "themes": "theme", "trend": "period"},
    ),
    ("/manager/themes/working/food?region_id=R01&period=2026-11", {"region_id": "R01"}, {"texts": "text"}),
]


@pytest.mark.parametrize("page,who,wanted", PAGES, ids=[p[0].split("?")[0] for p in PAGES])
def test_every_table_on_a_manager_page_downloads_as_csv(app, settings, page, who, wanted):
    client = _client(app, settings, **who)
    body = client.get(page).get_data(as_text=True)
    links = _csv_links(body)
    tables = {re.search(r"table=(\w+)", u).group(1): u for u in links}
    assert set(tables) == set(wanted), links
    for table, column in wanted.items():
        response = client.get(tables[table])
        rows = csv_rows(response)
        header = response.get_data().decode("utf-8").splitlines()[0]
        assert column in header.split(",")
        disposition = response.headers["Content-Disposition"]
        assert re.fullmatch(r'attachment; filename="(org-all|region-R01|site-S1)-[\w-]+-2026-11\.csv"', disposition)
        assert rows or table == "coverage"


def test_csv_figures_match_the_page(app, settings):
    client = _client(app, settings, region_id="R01")
    regions = csv_rows(_client(app, settings, role="org_admin").get("/manager/org?period=2026-11&format=csv"))
    assert {r["region_id"]: r["checks"] for r in regions} == {"R01": "3", "R02": "1"}
    assert {r["region_id"]: r["with_supporter"] for r in regions} == {"R01": "1", "R02": "0"}
    coverage = csv_rows(client.get("/manager/regions/R01?period=2026-11&format=csv&table=coverage"))
    # S2's checker is in the directory, S3 has neither a check nor a checker; S1 is fine and not a gap.
    assert [(r["site_id"], r["checked_in_period"], r["has_active_checker"]) for r in coverage] == [("S3", "no", "no")]
    questions = csv_rows(client.get("/manager/sites/S1?period=2026-11&format=csv&table=questions"))
    assert {r["question_id"]: (r["good"], r["ok"]) for r in questions} == {
        "listened-to": ("2", "0"),
        "respect": ("0", "2"),
    }
    themes = csv_rows(client.get("/manager/regions/R01?period=2026-11&format=csv&table=themes"))
    food = next(r for r in themes if r["theme"] == "food" and r["question"] == "What is working")
    assert (food["mentions"], food["checks"]) == ("4", "3")
    assert "R02" not in str(themes)


def test_csv_cells_cannot_run_as_formulas(app, settings):
    client = _client(app, settings, region_id="R01")
    texts = csv_rows(client.get("/manager/themes/not_working/other?region_id=R01&period=2026-11&format=csv"))
    assert [r["text"] for r in texts] == ['\'=HYPERLINK("http://evil.example","click")']
    comments = csv_rows(client.get("/manager/sites/S2?period=2026-11&format=csv&table=comments"))
    by_text = {r["text"] for r in comments}
    assert "'+44 123 call me" in by_text and "'\tfood trips" in by_text
    assert not any(r[k][:1] in ("=", "+", "-", "@", "\t", "\r") for r in comments + texts for k in r if r[k])


@pytest.mark.parametrize(
    "who,url,status",
    [
        ({"region_id": "R01"}, "/manager/regions/R02?period=2026-11&format=csv&table=coverage", 403),
        ({"region_id": "R01"}, "/manager/sites/S4?period=2026-11&format=csv&table=comments", 403),
        ({"region_id": "R01"}, "/manager/sites/S9?format=csv&table=comments", 404),
        ({"region_id": "R01"}, "/manager/org?format=csv", 403),
        ({"region_id": "R01"}, "/manager/themes/working/food?region_id=R02&format=csv", 403),
        ({"region_id": "R01"}, "/manager/themes/working/food?site_id=S4&format=csv", 403),
        ({"region_id": "R01"}, "/manager/themes/working/food?format=csv", 403),
        ({"region_id": "R01"}, "/manager/regions/R01?format=csv&table=nonsense", 404),
        ({"region_id": "R01"}, "/manager/themes/working/no-such-theme?region_id=R01", 404),
        ({"region_id": "R01"}, "/manager/themes/sometimes/food?region_id=R01", 404),
        ({"role": "site_manager", "region_id": "R01", "site_id": "S1"}, "/manager/regions/R01?format=csv", 403),
        (
            {"role": "site_manager", "region_id": "R01", "site_id": "S1"},
            "/manager/themes/working/food?region_id=R01",
            403,
        ),
        (
            {"role": "site_manager", "region_id": "R01", "site_id": "S1"},
            "/manager/sites/S1?format=csv&table=themes",
            200,
        ),
        ({"role": "site_manager", "region_id": "R01", "site_id": "S1"}, "/manager/themes/working/food?site_id=S1", 200),
    ],
)
def test_csv_and_theme_pages_are_scoped_like_the_pages(app, settings, who, url, status):
    response = _client(app, settings, **who).get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:200]


def test_a_site_managers_site_theme_csv_holds_only_their_site(app, settings):
    client = _client(app, settings, role="site_manager", region_id="R01", site_id="S1")
    # Asking for a region as well does not widen a site's scope.
    rows = csv_rows(client.get("/manager/themes/working/food?site_id=S1&region_id=R01&format=csv&period=2026-11"))
    assert {r["site_id"] for r in rows} == {"S1"} and len(rows) == 2


# --- themes link to the texts behind them ---------------------------------------------------------


def test_each_theme_links_to_the_texts_behind_it(app, settings):
    client = _client(app, settings, region_id="R01")
    page = client.get("/manager/regions/R01?period=2026-11").get_data(as_text=True)
    links = {html.unescape(u) for u in re.findall(r'href="(/manager/themes/[^"]+)"', page)}
    assert "/manager/themes/working/food?region_id=R01&period=2026-11" in links
    assert "/manager/themes/not_working/other?region_id=R01&period=2026-11" in links
    theme = client.get("/manager/themes/working/food?region_id=R01&period=2026-11").get_data(as_text=True)
    assert "What is working: Food and meals" in theme
    for text in ("Lovely food", "The meals are tasty", "nice meals", "food trips"):
        assert html.escape(text) in theme
    assert "Good food in R02" not in theme and "Site 2" in theme and "2026-11-12" in theme
    # Every text the theme counts is listed: mentions in the table == rows on the page.
    assert theme.count("<tr data-shared=") == 4
    site = client.get("/manager/sites/S1?period=2026-11").get_data(as_text=True)
    assert "/manager/themes/working/food?site_id=S1&amp;period=2026-11" in site


def test_the_theme_texts_api_matches_the_theme_counts(app, settings):
    client = app.test_client()
    rm = _bearer(settings, region_id="R01")
    counts = client.get("/api/v1/themes?region_id=R01&period=2026-11", headers=rm).json
    for kind in ("working", "not_working"):
        for theme in counts[kind]:
            url = f"/api/v1/themes/{kind}/{theme['theme']}/submissions?region_id=R01&period=2026-11"
            body = client.get(url, headers=rm).json
            assert len(body["texts"]) == theme["mentions"], (kind, theme["theme"])
            assert body["label"] == theme["label"]
    response = client.get("/api/v1/themes/working/food/submissions?region_id=R01&period=2026-11&format=csv", headers=rm)
    assert len(csv_rows(response)) == 4
    assert 'filename="region-R01-working-food-2026-11.csv"' in response.headers["Content-Disposition"]
    assert client.get("/api/v1/themes/working/food/submissions?region_id=R02", headers=rm).status_code == 403
    assert client.get("/api/v1/themes/working/nope/submissions?region_id=R01", headers=rm).status_code == 404


# --- consent --------------------------------------------------------------------------------------


def _everything_a_manager_can_read(app, settings) -> dict[str, str]:
    rm, client = _bearer(settings, region_id="R01"), _client(app, settings, region_id="R01")
    api = app.test_client()
    urls = {
        "site page": (client, "/manager/sites/S1?period=2026-11"),
        "site page S2": (client, "/manager/sites/S2?period=2026-11"),
        "region page": (client, "/manager/regions/R01?period=2026-11"),
        "theme page": (client, "/manager/themes/working/food?region_id=R01&period=2026-11"),
        "theme page, not working": (client, "/manager/themes/not_working/other?region_id=R01&period=2026-11"),
        "comments csv": (client, "/manager/sites/S1?period=2026-11&format=csv&table=comments"),
        "theme csv": (client, "/manager/themes/working/food?region_id=R01&period=2026-11&format=csv"),
        "comments api": (api, "/api/v1/sites/S1/comments"),
        "theme api": (api, "/api/v1/themes/working/food/submissions?region_id=R01&period=2026-11"),
        "themes api": (api, "/api/v1/themes?region_id=R01&period=2026-11"),
        "overview api": (api, "/api/v1/regions/R01/overview?period=2026-11"),
    }
    out = {}
    for name, (c, url) in urls.items():
        response = c.get(url, headers=rm if c is api else {})
        assert response.status_code == 200, (name, response.status_code)
        out[name] = response.get_data(as_text=True)
    return out


def test_no_checker_id_is_shown_anywhere(app, settings):
    for name, text in _everything_a_manager_can_read(app, settings).items():
        assert NAMED_CHECKER not in text and SHY_CHECKER not in text, name
        assert "Bob Shy" not in text, name  # shared nothing with a name


def test_a_name_is_shown_only_beside_what_was_shared_named(app, settings):
    rm = _bearer(settings, region_id="R01")
    body = app.test_client().get("/api/v1/sites/S1/comments", headers=rm).json
    named = body["comments"]
    assert {e["shared"] for e in named} == {"named"} and {e["by"] for e in named} == {NAMED_NAME}
    said_named = {t for e in named for t in [*e["comments"].values(), *e["working"], *e["not_working"]]}
    assert said_named == {"Staff are kind to me", "The meals are tasty"}
    # Anonymous texts stand apart: no date, no visit, no name, in alphabetical order (not the checks' order).
    assert body["anonymous"] == [
        {"question": "What is not working", "text": '=HYPERLINK("http://evil.example","click")'},
        {"question": "What is working", "text": "Lovely food"},
        {"question": "respect", "text": "Nobody knocks on my door"},
    ]
    assert body["anonymous_withheld"] == 0 and body["anonymous_withheld_why"] is None
    # No entry joins a named text to an anonymous one from the same check.
    assert all("submission_id" not in e for e in named)

    page = _client(app, settings, region_id="R01").get("/manager/sites/S1?period=2026-11").get_data(as_text=True)
    articles = re.findall(r'<article class="card comment"[^>]*data-shared="(\w+)">(.*?)</article>', page, re.S)
    assert [shared for shared, _ in articles] == ["named", "named"]
    assert all(NAMED_NAME in text and "Lovely food" not in text for _, text in articles)
    [apart] = re.findall(r'<ul class="card comment" data-shared="anonymous">(.*?)</ul>', page, re.S)
    assert "Lovely food" in apart and "Nobody knocks on my door" in apart and "2026-11" not in apart

    rows = csv_rows(
        _client(app, settings, region_id="R01").get(
            "/manager/themes/working/food?region_id=R01&format=csv&period=2026-11"
        )
    )
    by = {r["text"]: r["by"] for r in rows}
    assert by == {
        "Lovely food": "Anonymous",
        "The meals are tasty": NAMED_NAME,
        "nice meals": "Anonymous",
        "'\tfood trips": "Anonymous",
    }


def test_a_named_text_of_a_checker_the_directory_does_not_name_says_so(app, settings):
    db = mongo.connect(settings, "qc-tests")
    try:
        SiteDirectory(db).apply(
            {"entity": "person", "id": NAMED_CHECKER, "name": "", "role": "checker", "site_id": "S1", "active": True}
        )
    finally:
        db.client.close()
    rm = _bearer(settings, region_id="R01")
    entries = app.test_client().get("/api/v1/sites/S1/comments", headers=rm).json["comments"]
    assert {e["by"] for e in entries if e["shared"] == "named"} == {"Named by the checker"}


# --- who wrote the answers ------------------------------------------------------------------------


def test_checks_are_counted_by_who_wrote_the_answers(app, settings):
    client, admin = app.test_client(), _bearer(settings, "a", "org_admin")
    expected: dict[tuple, Counter] = {}
    for event in CHECKS:
        data = event["data"]
        by = data.get("answered_by", "alone")
        day = dt.date.fromisoformat(data["visited_on"])
        year, week, _ = day.isocalendar()
        in_periods = (f"{day:%Y-%m}", f"{day.year}-Q{(day.month - 1) // 3 + 1}", f"{year}-W{week:02d}")
        for key in (("sites", data["site_id"]), ("regions", data["region_id"]), ("org", None)):
            for period in in_periods:
                expected.setdefault((*key, period), Counter())[by] += 1
    assert len(expected) == 4 + 3 + 3 + 4 + 3 + 4  # S1 (two weeks), S2, S4, R01 (two weeks), R02, org (two weeks)
    for (scope, entity, period), counts in expected.items():
        url = f"/api/v1/rollups/{scope}/{entity}?period={period}" if entity else f"/api/v1/rollups/org?period={period}"
        body = client.get(url, headers=admin).json
        assert body["answered_by"] == {k: counts.get(k, 0) for k in ("alone", "with_supporter", "supporter_wrote")}, url
        assert sum(body["answered_by"].values()) == body["checks"]
    page = _client(app, settings, region_id="R01").get("/manager/regions/R01?period=2026-11").get_data(as_text=True)
    assert (
        "With a supporter helping: <strong>1</strong>" in page
        and "A supporter wrote what they said: <strong>1</strong>" in page
    )
    site = _client(app, settings, region_id="R01").get("/manager/sites/S2?period=2026-11").get_data(as_text=True)
    assert "The checker alone: <strong>1</strong>" in site
