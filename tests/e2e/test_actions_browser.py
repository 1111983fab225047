"""An action's journey in headless Chromium: from "not good" on a site's page to an action, to done, to the board.

Through the real stack: a check sent to the API, counted by aggregate; the manager's session carries across the
services' pages; each page axe-core clean at phone size, with a screenshot for docs/screens.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import requests
from selenium.webdriver.common.by import By

from tests.conftest import wait_for
from tests.e2e.conftest import assert_accessible, sign_in_manager

pytestmark = pytest.mark.e2e
SITE = "S0019"  # used by no other test: its "not good" raises an alert other tests must not meet


def _loaded(driver, url):
    driver.get(url)
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete", 10, url)


def _choose_day(driver, day: dt.date) -> None:
    """Fill the "Done by" date field as its calendar would: typed digits are read in the browser's locale's
    order (month first in Chromium's en-US), which made a typed day depend on today's date."""
    driver.execute_script("arguments[0].value = arguments[1]", driver.find_element(By.ID, "due_on"), day.isoformat())


def test_not_good_becomes_an_action_done_and_on_the_board(form_services, browser_factory):
    services = form_services
    settings = services["settings"]
    host = services["url"].rsplit(":", 1)[0]
    aggregate, notify = f"{host}:{settings.aggregate_port}", f"{host}:{settings.notify_port}"
    checker = next(c for c in services["creds"]["checkers"] if c["site_id"] == SITE)
    body = {
        "submission_id": str(uuid.uuid4()),
        "site_id": SITE,
        "question_set": {"id": "everyday-life", "version": 3},
        "visited_on": dt.date.today().isoformat(),
        "answers": [{"question_id": "respect", "score": 1, "comment": ""}],
        "not_working": ["The lift has been broken for three weeks"],
        "texts_share": "named",  # shown on the site page with the checker's name, so it can become an action
    }
    sent = requests.post(
        f"{services['url']}/api/v1/submissions",
        json=body,
        headers={"Authorization": f"Bearer {checker['token']}"},
        timeout=10,
    )
    assert sent.status_code == 202, sent.text
    driver = browser_factory(javascript=True)
    driver.set_window_size(390, 844)
    manager = next(m for m in services["creds"]["managers"] if m.get("site_id") == SITE)  # its site manager
    sign_in_manager(driver, services["url"], manager)

    def make_action_link():
        _loaded(driver, f"{aggregate}/manager/sites/{SITE}")
        return [
            a
            for a in driver.find_elements(By.CSS_SELECTOR, "[data-actions-from-answers] a")
            if "respect" in a.get_attribute("href")
        ]

    link = wait_for(make_action_link, 60, "the site page offering an action about respect", interval=1)[0]
    href = link.get_attribute("href")
    link.click()
    wait_for(lambda: "/manager/actions/new" in driver.current_url, 10, "the form to make an action")

    def action_form():
        # Notify learns the demo's sites from the directory on its own: the page waits for that, not the test's luck.
        if "Do staff treat you with respect?" not in driver.page_source:
            _loaded(driver, href)
        return "Do staff treat you with respect?" in driver.page_source

    wait_for(action_form, 60, "notify to know the site and offer the form about respect", interval=1)
    assert_accessible(driver, "action-01-make")
    driver.find_element(By.ID, "what").send_keys("Staff will knock and wait before going into anyone's room.")
    driver.find_element(By.ID, "owner").send_keys("The site manager")
    _choose_day(driver, dt.date.today() + dt.timedelta(days=14))
    driver.find_element(By.CSS_SELECTOR, "[data-new-action] button[type=submit]").click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-added]"), 10, "the action made")
    assert_accessible(driver, "action-02-made")
    driver.find_element(By.ID, "status-done").click()
    driver.find_element(By.ID, "done_words").send_keys("Staff now knock and wait. We check it at every team meeting.")
    driver.find_element(By.CSS_SELECTOR, "[data-change-action] button[type=submit]").click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-saved]"), 10, "the action done")
    assert driver.find_element(By.CSS_SELECTOR, "[data-status]").get_attribute("data-status") == "done"
    _loaded(driver, f"{notify}/sites/{SITE}/board")
    items = [i for i in driver.find_elements(By.CSS_SELECTOR, "li.item") if "knock and wait" in i.text]
    assert items and "You said staff do not always treat you with respect." in items[0].text
    assert_accessible(driver, "action-03-on-the-board")

    # The site's page at aggregate lists it too: the aggregate worker keeps what notify publishes.
    def on_the_site_page():
        _loaded(driver, f"{aggregate}/manager/sites/{SITE}")
        return [li for li in driver.find_elements(By.CSS_SELECTOR, "[data-site-actions] li") if "knock" in li.text]

    [listed] = wait_for(on_the_site_page, 60, "the action on the site's page", interval=1)
    assert listed.get_attribute("data-status") == "done" and "Done" in listed.text
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", listed)
    assert_accessible(driver, "action-08-on-the-site-page")

    # The checker who said it sees it on My checks, is asked "Is it better now?", and a "no" goes back to the managers.
    phone = browser_factory(javascript=True)
    phone.set_window_size(390, 844)
    _loaded(phone, f"{services['url']}/s/{checker['token']}")

    def told():
        _loaded(phone, f"{services['url']}/my-checks")
        return phone.find_elements(By.CSS_SELECTOR, f"[data-check='{body['submission_id']}'] [data-action='done']")

    [said] = wait_for(told, 60, "the checks worker to put the action done on My checks", interval=1)
    assert "You said “not good” to “Do staff treat you with respect?”" in said.text
    assert "We did this: “Staff now knock and wait." in said.text and "Is it better now?" in said.text
    phone.execute_script("arguments[0].scrollIntoView({block: 'center'})", said)  # the screenshot shows the card
    assert_accessible(phone, "action-04-my-checks")
    said.find_element(By.CSS_SELECTOR, "button[value='no']").click()
    wait_for(
        lambda: phone.find_elements(By.CSS_SELECTOR, "[data-action='done'] [data-feedback='no']"), 10, "the answer"
    )

    def back_on_the_home_page():
        _loaded(driver, f"{notify}/manager/today")
        return driver.find_elements(By.CSS_SELECTOR, "[data-list='not-better'] [data-not-better]")

    [line] = wait_for(back_on_the_home_page, 60, "notify to put the action back before its managers", interval=1)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", line)
    assert_accessible(driver, "action-05-not-better")
    # The manager opens it, sees what the checker said, and works on it again: it leaves the list.
    line.find_element(By.TAG_NAME, "a").click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-not-better] [data-work-again]"), 10, "the action")
    assert driver.find_element(By.CSS_SELECTOR, "[data-better]").text == "no"
    panel = driver.find_element(By.CSS_SELECTOR, "div[data-not-better]")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", panel)
    assert_accessible(driver, "action-06-work-again")
    driver.find_element(By.CSS_SELECTOR, "[data-work-again] button[type=submit]").click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-saved]"), 10, "saved")
    assert driver.find_element(By.CSS_SELECTOR, "[data-status]").get_attribute("data-status") == "in_progress"
    _loaded(driver, f"{notify}/manager/today")
    assert not driver.find_elements(By.CSS_SELECTOR, "[data-list='not-better'] [data-not-better]")

    # One "not working" text becomes an action too: the form asks for the manager's own words for it.
    _loaded(driver, f"{aggregate}/manager/sites/{SITE}")
    text_link = driver.find_element(By.CSS_SELECTOR, "[data-make-action='text']")
    assert "lift" not in text_link.get_attribute("href")  # by the text's key, never its words
    text_link.click()
    wait_for(lambda: driver.find_elements(By.ID, "said"), 10, "the form to make an action about one text")
    driver.find_element(By.CSS_SELECTOR, "[data-new-action] button[type=submit]").click()  # empty: every field asked
    [errors] = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-error-summary]"), 10, "the errors")
    assert "Write what people said, in your own words" in errors.text
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", driver.find_element(By.ID, "said"))
    assert_accessible(driver, "action-07-from-a-text")
    driver.find_element(By.ID, "said").send_keys("the lift is often broken")
    driver.find_element(By.ID, "what").send_keys("Ask the landlord to mend the lift and tell us when.")
    driver.find_element(By.ID, "owner").send_keys("The site manager")
    _choose_day(driver, dt.date.today() + dt.timedelta(days=7))
    driver.find_element(By.CSS_SELECTOR, "[data-new-action] button[type=submit]").click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-added]"), 10, "the action about the text made")
    assert "Not working: the lift is often broken" in driver.page_source
