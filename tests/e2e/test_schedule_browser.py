"""How often services are checked, in headless Chromium at phone size: a regional manager gives one service its
own schedule and saves; the page is axe-core clean before and after, with a screenshot for docs/screens."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from qc import auth
from services.checks.bootstrap import create_app
from services.checks.stores.directory import Directory
from tests.conftest import wait_for
from tests.e2e.conftest import app_over_http, assert_accessible, own_database, sign_in_by_cookie

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(stack):
    """The checks web app with a region of three services, over real HTTP on a free port."""
    with own_database(stack) as (settings, db):
        directory = Directory(db)
        directory.upsert("region", {"_id": "R01", "name": "North", "active": True})
        for site, name in (("S1", "Elm Court"), ("S2", "Ash Lodge"), ("S3", "Birch House")):
            directory.upsert("site", {"_id": site, "name": name, "region_id": "R01", "active": True})
        person = {"_id": "RM", "name": "Rita", "username": "rm", "role": "regional_manager", "region_id": "R01"}
        directory.upsert("person", {**person, "active": True})
        with app_over_http(create_app, settings) as (_, url):
            yield {"url": url, "settings": settings, "db": db}


def test_a_regional_manager_gives_one_service_its_own_schedule(served, browser_factory):
    driver = browser_factory()
    driver.set_window_size(390, 844)
    principal = auth.Principal("rm", "regional_manager", region_id="R01")
    sign_in_by_cookie(driver, served["url"], served["settings"].secret_key, principal)
    driver.get(f"{served['url']}/manager/schedule")
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-schedule]"), 10, "the schedule page")
    assert_accessible(driver, "manager-schedule")
    Select(driver.find_element(By.ID, "site-S2")).select_by_visible_text("Every two weeks")
    driver.find_element(By.CSS_SELECTOR, "[data-schedule] button[type=submit]").click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-saved]"), 10, "saved")
    assert Select(driver.find_element(By.ID, "site-S2")).first_selected_option.text == "Every two weeks"
    assert served["db"]["sites"].find_one({"_id": "S2"})["check_interval"] == "fortnight"
    assert_accessible(driver, "manager-schedule-saved")
