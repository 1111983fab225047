"""Everyone's link in headless Chromium at phone size: a site manager makes the card for the notice board;
someone who lives there answers the key questions without a name. Each page axe-core clean, with
screenshots for docs/screens."""

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
    """The checks web app with one service of its own (its answers go to the shared broker), over real HTTP."""
    with own_database(stack) as (settings, db):
        directory = Directory(db)
        directory.upsert("region", {"_id": "R97", "name": "South", "active": True})
        directory.upsert("site", {"_id": "S9701", "name": "Rowan House", "region_id": "R97", "active": True})
        with app_over_http(create_app, settings) as (_, url):
            yield {"url": url, "settings": settings, "db": db}


def test_a_card_for_the_board_and_the_key_questions_answered_without_a_name(served, browser_factory):
    manager = browser_factory()
    manager.set_window_size(390, 844)
    principal = auth.Principal("sm", "site_manager", region_id="R97", site_id="S9701")
    sign_in_by_cookie(manager, served["url"], served["settings"].secret_key, principal)
    manager.get(f"{served['url']}/manager/sites/S9701/voice-link")
    wait_for(lambda: manager.find_elements(By.CSS_SELECTOR, "[data-no-link]"), 10, "the page, with no link yet")
    manager.find_element(By.CSS_SELECTOR, "[data-make-new]").click()
    [card] = wait_for(lambda: manager.find_elements(By.CSS_SELECTOR, "[data-link-card]"), 10, "the card")
    link = manager.find_element(By.CSS_SELECTOR, "[data-link]").text
    manager.execute_script("arguments[0].scrollIntoView({block: 'center'})", card)
    assert_accessible(manager, "voice-link-card")

    phone = browser_factory(javascript=True)
    phone.set_window_size(390, 844)
    phone.get(f"{served['url']}/v/{link.split('/v/')[1]}")  # the card names the public address; this is the app
    wait_for(lambda: phone.find_elements(By.CSS_SELECTOR, "[data-voice]"), 10, "the key questions")
    assert "Tell us what you think about Rowan House" in phone.page_source
    assert_accessible(phone, "voice-01-questions")
    phone.find_element(By.CSS_SELECTOR, "[data-voice] button[type=submit]").click()
    wait_for(lambda: phone.find_elements(By.CSS_SELECTOR, "[data-error-summary]"), 10, "what is missing")
    assert_accessible(phone, "voice-01-nothing-chosen")
    phone.find_element(By.ID, "score-listened-to-3").click()
    phone.find_element(By.ID, "answered-by-with_supporter").click()
    phone.find_element(By.CSS_SELECTOR, "[data-voice] button[type=submit]").click()
    wait_for(lambda: "/thanks" in phone.current_url, 10, "the thank-you page")
    assert_accessible(phone, "voice-02-thanks")
    [sent] = list(served["db"]["submissions"].find({"checker_id": "voice:S9701"}))
    assert sent["answered_by"] == "with_supporter" and sent["status"] in ("sending", "accepted")
