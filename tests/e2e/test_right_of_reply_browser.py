"""The right of reply in headless Chromium: the draft a site manager replies to, and the published print; axe-core."""

from __future__ import annotations

import datetime as dt

import pytest
from selenium.webdriver.common.by import By

from qc import auth, events
from services.aggregate.bootstrap import create_app
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.rollups import RollupStore
from services.aggregate.worker import AggregateHandler
from tests import builders
from tests.builders import validated_check
from tests.conftest import wait_for
from tests.e2e.conftest import app_over_http, own_database, run_axe, sign_in_by_cookie

pytestmark = pytest.mark.e2e
REPORT = "/manager/regions/R01/reports/2026-11"


@pytest.fixture(scope="module")
def served(stack):
    """The aggregate web app with a region of two checked sites, served over real HTTP on a free port."""
    with own_database(stack) as (settings, db):
        directory = SiteDirectory(db)
        for site in ("S1", "S2"):
            site_event = {"entity": "site", "id": site, "name": f"Site {site}", "region_id": "R01", "active": True}
            directory.apply(site_event)
        store = RollupStore(db)
        store.ensure_indexes()
        checks = [
            validated_check("S1", "R01", "2026-11-03", working=["Lovely food"]),
            validated_check("S2", "R01", "2026-11-04"),
        ]
        AggregateHandler(store, directory, publisher=None).handle(builders.deliveries(*checks))
        with app_over_http(create_app, settings) as (app, url):
            right = app.extensions["qc.aggregate"].right_of_reply
            right.tell = lambda doc: False  # not told to the stack's notify: this app's database is not the stack's
            right.prepare("R01", "2026-11", "rm")
            yield {"url": url, "settings": settings, "right": right}


def _signed_in(served, browser_factory, principal):
    driver = browser_factory()
    driver.set_window_size(1280, 900)
    sign_in_by_cookie(driver, served["url"], served["settings"].secret_key, principal)
    return driver


def _loaded(driver, url):
    driver.get(url)
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete", 10, url)


def test_draft_reply_and_published_print_in_a_browser(served, browser_factory):
    site_manager = auth.Principal("sm1", "site_manager", region_id="R01", site_id="S1")
    driver = _signed_in(served, browser_factory, site_manager)
    _loaded(driver, served["url"] + REPORT)
    assert driver.find_element(By.CSS_SELECTOR, "tr.mine").get_attribute("data-site") == "S1"
    assert run_axe(driver) == []

    # Too long first: the error is at the top and beside the field, and the page is still clean.
    driver.find_element(By.ID, "reply").send_keys("a" * 2001)
    driver.find_element(By.CSS_SELECTOR, "form[action$='/replies/S1'] button").click()
    wait_for(lambda: driver.find_elements(By.ID, "reply-error"), 10, "the over-length error")
    assert "There is a problem" in driver.find_element(By.CSS_SELECTOR, ".error-summary").text
    assert run_axe(driver) == []
    box = driver.find_element(By.ID, "reply")
    box.clear()
    box.send_keys("We have two new night staff since the check.")
    driver.find_element(By.CSS_SELECTOR, "form[action$='/replies/S1'] button").click()
    wait_for(lambda: "Your reply is saved" in driver.page_source, 10, "the reply saved")

    # After the deadline the regional manager publishes; the print version shows the reply beside the site.
    served["right"].clock = lambda: events.now() + dt.timedelta(days=30)
    served["right"].publish("R01", "2026-11", "rm")
    manager = _signed_in(served, browser_factory, auth.Principal("rm", "regional_manager", region_id="R01"))
    _loaded(manager, f"{served['url']}{REPORT}/print")
    row = manager.find_element(By.CSS_SELECTOR, "tr[data-site='S1']")
    assert "Reply from the site manager: We have two new night staff" in row.text
    assert "No reply" in manager.find_element(By.CSS_SELECTOR, "tr[data-site='S2']").text
    assert run_axe(manager) == []
    manager.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not manager.find_element(By.TAG_NAME, "header").is_displayed()
        assert not manager.find_element(By.CSS_SELECTOR, ".no-print").is_displayed()
    finally:
        manager.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
