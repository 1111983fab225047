"""Recognition over the real database: My contribution, its printable record, the managers' page, the board link."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from urllib.parse import parse_qs, urlparse

import pytest

from qc import auth, web
from services.checks.bootstrap import create_app
from services.checks.stores.contributions import read_entry
from services.checks.stores.directory import Directory

pytestmark = pytest.mark.integration
TODAY = dt.date.today()


@pytest.fixture
def app(settings):
    app = create_app({**dataclasses.asdict(settings), "organisation_name": "Oakfield Care"})
    directory = Directory(app.extensions["qc.checks"].db)
    for n, (site, region) in enumerate((("S0001", "R01"), ("S0002", "R02")), start=1):
        directory.upsert("region", {"_id": region, "name": f"Region {n}", "active": True})
        directory.upsert("site", {"_id": site, "name": ("Oak House", "Elm Court")[n - 1], "region_id": region})
    directory.upsert("person", {"_id": "C1", "name": "Sam Jones", "role": "checker", "site_id": "S0001"})
    directory.upsert("person", {"_id": "C2", "name": "Ali Khan", "role": "checker", "site_id": "S0002"})
    app.tokens = {}
    for checker, site in (("C1", "S0001"), ("C2", "S0002")):
        app.tokens[checker] = auth.new_checker_token()
        directory.add_checker_token(checker, site, auth.hash_checker_token(app.tokens[checker]))
    submissions = app.extensions["qc.checks"].db["submissions"]
    # C1: two counted checks and one that was not counted (rejected); C2: one check.
    for checker, site, day, status in (
        ("C1", "S0001", "2026-03-04", "validated"),
        ("C1", "S0001", "2026-10-20", "accepted"),
        ("C1", "S0001", "2026-11-01", "rejected"),
        ("C2", "S0002", "2026-09-09", "validated"),
    ):
        submissions.insert_one(
            {"_id": str(uuid.uuid4()), "checker_id": checker, "site_id": site, "visited_on": day, "status": status}
        )
    yield app
    app.extensions["qc.close"]()


def _checker(app, checker="C1"):
    client = app.test_client()
    assert client.get(f"/s/{app.tokens[checker]}").status_code == 303
    return client


def _manager(app, settings, username="rm1", role="regional_manager", region="R01", site=None):
    client = app.test_client()
    principal = auth.Principal(username=username, role=role, region_id=region, site_id=site)
    token = auth.issue_manager_token(settings.secret_key, principal)
    client.set_cookie(web.MANAGER_COOKIE, token)
    client.csrf = web.manager_csrf_token(settings, token)
    return client


ENTRY = {"date": "2026-10-02", "kind": "training", "hours": "3.5", "title": "Safeguarding awareness course"}
PATH = "/manager/checkers/C1/contributions"


def test_a_manager_records_time_and_training_and_the_checker_sees_it(app, settings):
    manager = _manager(app, settings)
    page = manager.get(PATH)
    assert page.status_code == 200 and "Contribution of Sam Jones" in page.get_data(as_text=True)
    added = manager.post(PATH, data={**ENTRY, "csrf_token": manager.csrf})
    assert added.status_code == 303 and added.headers["Location"].endswith("?added=1")
    visit = {"date": "2026-10-20", "kind": "check_visit", "hours": "2", "title": "Check visit at Oak House"}
    assert manager.post(PATH, data={**visit, "csrf_token": manager.csrf}).status_code == 303
    listed = manager.get(PATH).get_data(as_text=True)
    assert "Safeguarding awareness course" in listed and "5.5 hours" in listed

    checker = _checker(app)
    mine = checker.get("/my-contribution")
    text = mine.get_data(as_text=True)
    assert mine.status_code == 200 and "My contribution" in text and "data-read-aloud" in text
    assert re.search(r"data-checks-done>\s*2\s*<", text), "validated and accepted count; rejected does not"
    assert "From 4 March 2026 to 20 October 2026" in text and "5.5 hours" in text
    assert "Safeguarding awareness course – 2 October 2026" in text
    assert "only count time that your supporter or manager has written down" in text
    printed = checker.get("/my-contribution/print").get_data(as_text=True)
    for words in (
        "Sam Jones",
        "Oakfield Care (Oak House)",
        "Quality checker: visits services and tells managers what is working and what is not, "
        "as an expert by experience.",
        "4 March 2026 to 20 October 2026",
        "5.5 hours",
        "Safeguarding awareness course",
        "2 October 2026",
        "record.css",
    ):
        assert words in printed, words
    assert "Check visit at Oak House" not in printed.split("Training completed")[1], "only training is listed"
    assert "<td>3.5</td>" in printed and "<td>2</td>" in checker.get("/my-contribution").get_data(as_text=True)
    # Linked from the checker's pages.
    assert 'href="/my-contribution"' in checker.get("/my-checks").get_data(as_text=True)
    assert 'href="/my-contribution"' in checker.get("/").get_data(as_text=True)

    # Removed by mistake? It goes, and the hours with it.
    entry_id = re.search(r'data-entry="([0-9a-f-]{36})"', listed).group(1)
    removed = manager.post(f"{PATH}/{entry_id}/remove", data={"csrf_token": manager.csrf})
    assert removed.status_code == 303 and "removed=1" in removed.headers["Location"]
    assert manager.get(PATH).get_data(as_text=True).count("data-entry=") == 1


def test_a_checker_sees_only_their_own_record(app, settings):
    manager = _manager(app, settings)
    assert manager.post(PATH, data={**ENTRY, "csrf_token": manager.csrf}).status_code == 303
    other = _checker(app, "C2").get("/my-contribution").get_data(as_text=True)
    assert "Ali Khan" in other and "Sam Jones" not in other and "Safeguarding" not in other
    assert re.search(r"data-checks-done>\s*1\s*<", other)
    assert app.test_client().get("/my-contribution").status_code == 401


def test_managers_outside_the_checkers_site_or_region_are_refused(app, settings):
    other_region = _manager(app, settings, "rm2", region="R02")
    assert other_region.get(PATH).status_code == 403
    assert other_region.post(PATH, data={**ENTRY, "csrf_token": other_region.csrf}).status_code == 403
    other_site = _manager(app, settings, "sm2", role="site_manager", region="R02", site="S0002")
    assert other_site.get(PATH).status_code == 403
    own_site = _manager(app, settings, "sm1", role="site_manager", region="R01", site="S0001")
    assert own_site.get(PATH).status_code == 200
    assert _manager(app, settings).get("/manager/checkers/NOPE/contributions").status_code == 404
    assert _manager(app, settings).get("/manager/checkers/RM1/contributions").status_code == 404
    assert app.extensions["qc.checks"].db["contributions"].count_documents({}) == 0


def test_the_managers_form_needs_its_csrf_token_and_a_session(app, settings):
    manager = _manager(app, settings)
    refused = manager.post(PATH, data=ENTRY)
    assert refused.status_code == 400
    assert manager.post(PATH, data={**ENTRY, "csrf_token": "0" * 64}).status_code == 400
    anonymous = app.test_client().post(PATH, data=ENTRY)
    assert anonymous.status_code == 303 and "/manager/sign-in" in anonymous.headers["Location"]
    assert app.test_client().get(PATH).status_code == 303
    assert app.extensions["qc.checks"].db["contributions"].count_documents({}) == 0


def test_wrong_entries_get_plain_errors_next_to_the_fields_and_a_summary(app, settings):
    manager = _manager(app, settings)
    bad = {"date": "31/02/2026", "kind": "", "hours": "25", "title": "", "csrf_token": manager.csrf}
    response = manager.post(PATH, data=bad)
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and "There is a problem" in text
    for message, field in (
        ("Enter a real date, like 3/11/2026", "date"),
        ("Choose what kind of time this was.", "kind"),
        ("Enter between 0 and 24 hours for one day.", "hours"),
        ("Enter what it was", "title"),
    ):
        assert text.count(message) == 2, message  # in the summary and next to the field
        assert f'href="#{field}"' in text and f'id="{field}-error"' in text
    assert 'value="31/02/2026"' in text, "what was typed is kept"
    assert app.extensions["qc.checks"].db["contributions"].count_documents({}) == 0


@pytest.mark.parametrize(
    "form,field",
    [
        ({"date": (TODAY + dt.timedelta(days=1)).isoformat()}, "date"),
        ({"hours": "-1"}, "hours"),
        ({"hours": "nan"}, "hours"),
        ({"hours": "two"}, "hours"),
        ({"kind": "holiday"}, "kind"),
        ({"title": "x" * 201}, "title"),
        ({"date": "3/11/99999999999999999999"}, "date"),
        ({"date": "²/1/2026"}, "date"),
    ],
)
def test_read_entry_refuses(form, field):
    _entry, errors = read_entry({**ENTRY, **form}, TODAY)
    assert list(errors) == [field]


def test_read_entry_accepts_uk_dates_and_decimal_commas():
    entry, errors = read_entry({**ENTRY, "date": "2/10/2026", "hours": "1,5", "title": "  A   course "}, TODAY)
    assert not errors and entry == {"date": "2026-10-02", "kind": "training", "hours": 1.5, "title": "A course"}


def test_my_checks_links_to_the_sites_board_with_a_token_for_that_site(app, settings):
    text = _checker(app).get("/my-checks").get_data(as_text=True)
    assert "See what your service has done: You said, we did" in text
    href = re.search(r'<a class="link-block" href="([^"]+)"[^>]*>See what your service', text).group(1)
    url = urlparse(href.replace("&amp;", "&"))
    assert f"{url.scheme}://{url.netloc}" == settings.notify_public_url.rstrip("/")
    assert url.path == "/sites/S0001/board"
    token = parse_qs(url.query)["t"][0]
    link = auth.read_board_token(settings.secret_key, token)
    assert (link.site_id, link.holder) == ("S0001", "checker:C1")
    other = _checker(app, "C2").get("/my-checks").get_data(as_text=True)
    assert "/sites/S0002/board?t=" in other and "/sites/S0001/board" not in other


def test_managers_find_their_own_checkers_in_a_list(app, settings):
    def listed(client, query=""):
        return set(
            re.findall(
                r"/manager/checkers/(\w+)/contributions", client.get(f"/manager/checkers{query}").get_data(as_text=True)
            )
        )

    assert listed(_manager(app, settings)) == {"C1"}
    assert listed(_manager(app, settings, "sm2", role="site_manager", region="R02", site="S0002")) == {"C2"}
    admin = _manager(app, settings, "admin", role="org_admin", region=None)
    page = admin.get("/manager/checkers").get_data(as_text=True)
    assert listed(admin) == set() and "Region 1" in page and "Region 2" in page, "a region first"
    assert listed(admin, "?region_id=R02") == {"C2"}
    assert app.test_client().get("/manager/checkers").status_code == 303
