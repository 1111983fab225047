"""Questions made with checkers, in headless Chromium at phone size: the involvement lead's pages and the
checker's review, each axe-core clean with 44 px targets, with screenshots for docs/screens."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from qc import auth, question_words
from services.checks.bootstrap import create_app
from services.checks.stores.directory import Directory
from tests.conftest import new_topic, wait_for
from tests.e2e.conftest import app_over_http, assert_accessible, own_database, sign_in_by_cookie

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(stack):
    """The checks web app with one region, two services and a checker at each, over real HTTP."""
    with own_database(stack) as (settings, db):
        directory = Directory(db)
        directory.upsert("region", {"_id": "R01", "name": "North", "active": True})
        tokens = {}
        for site, name, checker in (("S1", "Elm Court", "Sam Jones"), ("S2", "Ash Lodge", "Priya Shah")):
            directory.upsert("site", {"_id": site, "name": name, "region_id": "R01", "active": True})
            person = {"_id": f"C-{site}", "name": checker, "role": "checker", "site_id": site, "active": True}
            directory.upsert("person", person)
            tokens[site] = auth.new_checker_token()
            directory.add_checker_token(person["_id"], site, auth.hash_checker_token(tokens[site]))
        with app_over_http(create_app, settings) as (app, url):
            # Its own topic: the stack's aggregate and notify must not learn this test's questions.
            app.extensions["qc.checks"].question_teller.topic = new_topic(settings, "qc.questions.test")
            yield {"url": url, "settings": settings, "tokens": tokens}
        question_words.learn(list)  # this process's words are the versions with the code again


def _phone(browser_factory, served, site):
    phone = browser_factory()
    phone.set_window_size(390, 844)
    phone.get(f"{served['url']}/s/{served['tokens'][site]}")
    wait_for(lambda: phone.current_url.rstrip("/") == served["url"], 10, "the start page after sign-in")
    return phone


def _click(driver, selector):
    element = driver.find_element(By.CSS_SELECTOR, selector)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def test_a_draft_is_reviewed_on_a_phone_and_published_with_who_shaped_it(served, browser_factory):
    lead = browser_factory()
    lead.set_window_size(390, 844)
    principal = auth.Principal("lead", "involvement_lead")
    sign_in_by_cookie(lead, served["url"], served["settings"].secret_key, principal)
    lead.get(f"{served['url']}/manager/questions")
    wait_for(lambda: lead.find_elements(By.CSS_SELECTOR, "[data-start-draft]"), 10, "the questions page")
    assert_accessible(lead, "questions-01-overview")
    _click(lead, "[data-start-draft] button")
    wait_for(lambda: lead.find_elements(By.CSS_SELECTOR, "[data-draft-form]"), 10, "the draft to change")
    new_text = lead.find_element(By.ID, "new-text")
    new_text.send_keys("Do you like the food?")
    lead.find_element(By.ID, "written_with").send_keys("Amina Khan")
    _click(lead, "[data-draft-form] button[type=submit]")
    [summary] = wait_for(lambda: lead.find_elements(By.CSS_SELECTOR, "[data-error-summary]"), 10, "what is missing")
    assert "Choose a picture for the new question." in summary.text  # and nothing typed is lost
    assert lead.find_element(By.ID, "new-text").get_attribute("value") == "Do you like the food?"
    assert_accessible(lead, "questions-02-draft-error")
    lead.execute_script("document.getElementById('new-symbol').value = 'house'")
    _click(lead, "[data-draft-form] button[type=submit]")
    wait_for(lambda: lead.find_elements(By.CSS_SELECTOR, "[data-done]"), 10, "saved")

    lead.get(f"{served['url']}/manager/questions/draft/reviewers?region_id=R01")
    boxes = wait_for(lambda: lead.find_elements(By.CSS_SELECTOR, "[data-choose] input[type=checkbox]"), 10, "boxes")
    assert_accessible(lead, "questions-03-ask-checkers")
    _click(lead, f"#{boxes[0].get_attribute('id')}")  # Priya Shah, Ash Lodge (by name)
    _click(lead, "[data-choose] button[type=submit]")
    wait_for(lambda: lead.find_elements(By.CSS_SELECTOR, "[data-done]"), 10, "asked")

    phone = _phone(browser_factory, served, "S2")
    card = wait_for(lambda: phone.find_elements(By.CSS_SELECTOR, "[data-review-waiting] a"), 10, "the invitation")
    assert_accessible(phone, "questions-04-invitation")
    card[0].click()
    wait_for(lambda: phone.find_elements(By.CSS_SELECTOR, "[data-review]"), 10, "the review")
    assert "Do you like the food?" in phone.page_source
    assert_accessible(phone, "questions-05-review")
    _click(phone, "#clear-do-you-like-the-food-not_sure")
    phone.find_element(By.ID, "comment-do-you-like-the-food").send_keys("Say which meals")
    _click(phone, "#named-yes")
    _click(phone, "[data-review] button[type=submit]")
    wait_for(lambda: "Thank you for your help" in phone.page_source, 10, "thanks")
    assert_accessible(phone, "questions-06-thanks")

    lead.get(f"{served['url']}/manager/questions/draft/pilot?region_id=R01")
    wait_for(lambda: lead.find_elements(By.CSS_SELECTOR, "[data-choose]"), 10, "the services")
    _click(lead, "#chosen-1")  # Ash Lodge
    _click(lead, "[data-choose] button[type=submit]")
    wait_for(lambda: lead.find_elements(By.CSS_SELECTOR, "[data-publish]"), 10, "ready to publish")
    assert "“Say which meals”" in lead.page_source
    assert_accessible(lead, "questions-07-piloted")
    _click(lead, "[data-publish]")
    [preview] = wait_for(lambda: lead.find_elements(By.CSS_SELECTOR, "[data-credits-preview]"), 10, "asked first")
    assert "Checked by Priya Shah." in preview.text
    assert_accessible(lead, "questions-08-publish")
    _click(lead, "[data-publish-confirm] button[type=submit]")
    wait_for(lambda: lead.find_elements(By.CSS_SELECTOR, "[data-done]"), 10, "published")

    other = _phone(browser_factory, served, "S1")
    [credits] = wait_for(lambda: other.find_elements(By.CSS_SELECTOR, "[data-written-with]"), 10, "who shaped it")
    assert credits.text == (
        "These questions were written with checkers. Written with Amina Khan. Checked by Priya Shah. "
        "Tried at Ash Lodge."
    )
    assert_accessible(other, "questions-09-start-written-with")
