"""Team feedback and the Working Together for Change pack in headless Chromium: axe-core clean, A4 print."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from qc import auth
from services.aggregate.bootstrap import create_app
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.rollups import RollupStore
from services.aggregate.worker import AggregateHandler
from tests import builders
from tests.conftest import wait_for
from tests.e2e.conftest import app_over_http, own_database, run_axe, sign_in_by_cookie
from tests.scenarios.coproduction import CHECKS, NOT_ENOUGH, PACK_CHECKS

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(stack):
    """The aggregate web app over a few months of checks, served over real HTTP on a free port."""
    with own_database(stack) as (settings, db):
        directory = SiteDirectory(db)
        for site, region in (("S1", "R01"), ("S2", "R01"), ("S3", "R02")):
            site_event = {"entity": "site", "id": site, "name": f"Site {site}", "region_id": region, "active": True}
            directory.apply(site_event)
        store = RollupStore(db)
        store.ensure_indexes()
        AggregateHandler(store, directory, publisher=None).handle(builders.deliveries(*CHECKS, *PACK_CHECKS))
        with app_over_http(create_app, settings) as (_, url):
            yield {"url": url, "settings": settings}


def _signed_in(served, browser_factory):
    driver = browser_factory()
    driver.set_window_size(1280, 900)  # a team leader's laptop
    principal = auth.Principal("rm", "regional_manager", region_id="R01")
    sign_in_by_cookie(driver, served["url"], served["settings"].secret_key, principal)
    return driver


def _loaded(driver, url):
    driver.get(url)
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete", 10, url)


def test_team_feedback_and_the_wtfc_pack_in_a_browser(served, browser_factory):
    driver = _signed_in(served, browser_factory)
    _loaded(driver, f"{served['url']}/manager/sites/S1/team-feedback?period=2026-11")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Team feedback: Site S1"
    sections = driver.find_elements(By.CSS_SELECTOR, "section.tf")
    assert [s.get_attribute("data-question") for s in sections] == ["listened-to", "respect"]
    assert "Good: 4" in sections[0].text and NOT_ENOUGH in sections[1].text
    assert run_axe(driver) == []

    _loaded(driver, f"{served['url']}/manager/regions/R01/wtfc-pack?period=2026-11")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Working Together for Change"
    assert driver.find_elements(By.CSS_SELECTOR, "article.theme[data-theme='food'] blockquote")
    assert run_axe(driver) == []
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not driver.find_element(By.TAG_NAME, "header").is_displayed()
        assert not driver.find_element(By.CSS_SELECTOR, "a[download]").is_displayed()
        size = driver.execute_script("return parseFloat(getComputedStyle(document.querySelector('.pack')).fontSize)")
        assert size >= 18  # 14 pt: large, clear print for a co-production event
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
