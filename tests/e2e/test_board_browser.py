"""The "You said, we did" board in headless Chromium at phone size: axe-core clean, 44 px targets, print and no-JS."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from qc import auth
from qc.kafka import Publisher, make_producer
from qc_tools.devstack import free_port
from services.notify.bootstrap import create_app
from tests.conftest import wait_for
from tests.e2e.conftest import app_over_http, assert_accessible, own_database, sign_in_by_cookie
from tests.scenarios.board import SAMIRA, build_board

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served_board(stack):
    """The notify web app over a board's worth of alerts, served over real HTTP on a free port."""
    port = free_port()
    with own_database(stack, notify_public_url=f"http://127.0.0.1:{port}") as (settings, db):
        publisher = Publisher(make_producer(settings, "qc-tests"), source="qc/tests", timeout=10)
        made = build_board(db, settings, publisher)
        with app_over_http(create_app, settings, port) as (_, url):
            yield {"url": url, "settings": settings, **made}
        publisher.close()


def _board_url(served, print_version=False):
    token = auth.issue_board_token(served["settings"].secret_key, "S0001", f"checker:{SAMIRA[0]}")
    return f"{served['url']}/sites/S0001/board{'/print' if print_version else ''}?t={token}"


def _loaded(driver, url):
    driver.get(url)
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete", 10, url)


def test_the_board_for_the_people_who_live_there(served_board, browser_factory):
    driver = browser_factory()
    _loaded(driver, _board_url(served_board))
    items = driver.find_elements(By.CSS_SELECTOR, "li.item")
    assert len(items) == 4 and "We mended the back door lock." in driver.page_source
    read_aloud = driver.find_element(By.CSS_SELECTOR, "[data-read-aloud]")
    assert read_aloud.is_displayed() and read_aloud.size["height"] >= 44
    assert_accessible(driver, "board-01-you-said-we-did")


def test_the_a4_version_is_accessible_and_prints_without_buttons(served_board, browser_factory):
    driver = browser_factory()
    _loaded(driver, _board_url(served_board, print_version=True))
    assert_accessible(driver, "board-02-print")
    assert driver.find_element(By.CSS_SELECTOR, "[data-print]").is_displayed()
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not driver.find_element(By.CSS_SELECTOR, "[data-print]").is_displayed()
        size = driver.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)")
        assert size >= 21  # 16 pt: large print for a noticeboard
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def test_the_managers_view_and_the_board_without_javascript(served_board, browser_factory):
    driver = browser_factory()
    principal = auth.Principal("sm1", "site_manager", "R01", "S0001")
    sign_in_by_cookie(driver, served_board["url"], served_board["settings"].secret_key, principal)
    _loaded(driver, f"{served_board['url']}/sites/S0001/board")
    assert "A link for the people who live here" in driver.page_source
    assert_accessible(driver, "board-03-manager")

    plain = browser_factory(javascript=False)
    _loaded(plain, _board_url(served_board))
    assert not plain.find_element(By.CSS_SELECTOR, "[data-read-aloud]").is_displayed()
    assert "A worry was raised and is being looked into." in plain.page_source
    assert len(plain.find_elements(By.CSS_SELECTOR, "li.item")) == 4  # the whole board, no script needed
