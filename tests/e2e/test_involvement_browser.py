"""The involvement report in headless Chromium, at phone and desktop widths: axe-core clean, with screenshots."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from qc import auth
from services.checks.bootstrap import create_app
from services.checks.stores.directory import Directory
from tests.conftest import wait_for
from tests.e2e.conftest import app_over_http, assert_accessible, own_database, sign_in_by_cookie

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(stack):
    """The checks web app with a region of two services and two checkers, over real HTTP."""
    with own_database(stack) as (settings, db):
        directory = Directory(db)
        directory.upsert("region", {"_id": "R97", "name": "South", "active": True})
        for site in ("S9701", "S9702"):
            directory.upsert("site", {"_id": site, "name": f"Rowan {site}", "region_id": "R97", "active": True})
            person = {"_id": f"C-{site}", "name": "X", "role": "checker", "site_id": site, "active": True}
            directory.upsert("person", person)
        with app_over_http(create_app, settings) as (_, url):
            yield {"url": url, "settings": settings}


def test_the_involvement_report_reads_well_at_both_widths(served, browser_factory):
    driver = browser_factory()
    principal = auth.Principal("rm", "regional_manager", region_id="R97")
    sign_in_by_cookie(driver, served["url"], served["settings"].secret_key, principal)
    for size, screen in (((1280, 900), "involvement-report"), ((390, 844), "involvement-report-phone")):
        driver.set_window_size(*size)
        driver.get(f"{served['url']}/manager/involvement")
        [summary] = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-summary]"), 10, "the report")
        assert "2 people were quality checkers at the end" in summary.text
        assert_accessible(driver, screen)
