"""Sign-in links at phone size: a manager stops and replaces a checker's links; a phone asks whose link it is."""

from __future__ import annotations

import subprocess

import pytest
from selenium.webdriver.common.by import By

from tests.conftest import wait_for
from tests.e2e.conftest import SCREENS, assert_accessible, sign_in_manager

pytestmark = pytest.mark.e2e


def _checker(services, site_id):
    return next(c for c in services["creds"]["checkers"] if c["site_id"] == site_id)


def _open(driver, url):
    driver.get(url)
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete", 10, url)


def test_a_phone_signed_in_for_someone_else_asks_before_it_changes(form_services, browser_factory):
    services, driver = form_services, browser_factory(javascript=True)
    mine, theirs = _checker(services, "S0021"), _checker(services, "S0022")
    _open(driver, f"{services['url']}/s/{mine['token']}")
    _open(driver, f"{services['url']}/s/{theirs['token']}")
    assert driver.find_element(By.CSS_SELECTOR, "[data-sign-in-confirm]").text == "Is this your link?"
    assert driver.find_element(By.CSS_SELECTOR, "[data-link-name]").text == "Checker 00022"
    assert driver.find_element(By.CSS_SELECTOR, "[data-current-name]").text == "Checker 00021"
    assert_accessible(driver, "21-is-this-your-link")
    driver.find_element(By.CSS_SELECTOR, "[data-keep]").click()
    wait_for(lambda: "data-start-check" in driver.page_source, 10, "the start page, still as 00021")
    assert "0021" in driver.find_element(By.CSS_SELECTOR, "h1").text


def test_a_manager_stops_a_checkers_links_and_makes_a_new_one(form_services, browser_factory, tmp_path):
    services, driver = form_services, browser_factory(javascript=True)
    checker = _checker(services, "S0023")
    phone = browser_factory(javascript=True)
    _open(phone, f"{services['url']}/s/{checker['token']}")
    manager = next(m for m in services["creds"]["managers"] if m.get("site_id") == "S0023")
    sign_in_manager(driver, services["url"], manager)
    _open(driver, f"{services['url']}/manager/checkers/{checker['checker_id']}/links")
    # At least the phone's link (each e2e module seeds the demo again, which adds a link per checker).
    assert driver.find_elements(By.CSS_SELECTOR, "[data-live-links] tbody tr")
    assert_accessible(driver, "manager-links")
    driver.find_element(By.CSS_SELECTOR, "[data-make-new]").click()
    link = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-link]"), 10, "the new link")[0].text
    assert_accessible(driver, "manager-links-new")
    # The card to print: a phone camera's reading of its QR code (zbarimg here) is the new link itself.
    card = driver.find_element(By.CSS_SELECTOR, "[data-link-card]")
    driver.execute_script("arguments[0].scrollIntoView()", card)
    picture = tmp_path / "card.png"
    card.find_element(By.CSS_SELECTOR, "svg").screenshot(str(picture))
    read = subprocess.run(["zbarimg", "--raw", "-q", str(picture)], capture_output=True, text=True, timeout=30)
    assert read.stdout.strip() == link, read
    assert "Point it at the square." in card.text and "Keep this card safe." in card.text
    card.screenshot(str(SCREENS / "manager-links-card.png"))
    _open(phone, f"{services['url']}/my-checks")
    assert "This link does not work" in phone.page_source  # the old link, and its session, stopped
    _open(phone, link)
    wait_for(lambda: "data-start-check" in phone.page_source, 10, "signed in with the new link")


def test_signing_out_warns_about_an_unsent_check_then_leaves_nothing_on_the_phone(form_services, browser_factory):
    services, driver = form_services, browser_factory(javascript=True)
    _open(driver, f"{services['url']}/s/{_checker(services, 'S0024')['token']}")
    # A check begun on this phone and not sent yet (what the one-page check keeps in the phone's storage).
    driver.execute_script(
        "const who = document.querySelector('meta[name=qc-checker]').content;"
        "localStorage.setItem('qc.draft.' + who, JSON.stringify({submission_id: 'unsent', answers: {}}));"
        "localStorage.setItem('qc.outbox.' + who, JSON.stringify([{state: 'waiting', body: {submission_id: 'w',"
        " visited_on: '2026-12-01'}}]));"
    )
    _open(driver, f"{services['url']}/how-i-like-it")
    driver.find_element(By.CSS_SELECTOR, "[data-sign-out]").click()
    warning = driver.find_element(By.CSS_SELECTOR, "[data-sign-out-form] [data-sign-out-warning]")
    assert warning.is_displayed() and warning.text.startswith("2 checks have not been sent yet.")
    assert "/how-i-like-it" in driver.current_url  # not signed out yet
    assert_accessible(driver, "22-sign-out-unsent-check")
    driver.find_element(By.CSS_SELECTOR, "[data-sign-out]").click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-signed-out]"), 10, "the signed-out page")
    kept = driver.execute_script(
        "return Object.keys(localStorage).filter(k => k.startsWith('qc.draft.') || k.startsWith('qc.outbox.'))"
    )
    assert kept == []


def test_a_manager_adds_a_checker_and_keeps_their_record_at_phone_size(form_services, browser_factory):
    services, driver = form_services, browser_factory(javascript=True)
    manager = next(m for m in services["creds"]["managers"] if m.get("site_id") == "S0024")
    sign_in_manager(driver, services["url"], manager)
    _open(driver, f"{services['url']}/manager/checkers")
    driver.find_element(By.CSS_SELECTOR, "a[data-add-checker]").click()
    wait_for(lambda: driver.current_url.endswith("/manager/checkers/new"), 10, "the form to add a checker")
    driver.find_element(By.CSS_SELECTOR, "[data-add-checker] button[type=submit]").click()  # nothing written
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-error-summary]"), 10, "the errors")
    assert "Write their name." in driver.find_element(By.CSS_SELECTOR, "[data-error-summary]").text
    assert_accessible(driver, "manager-checker-new-error")
    driver.find_element(By.ID, "name").send_keys("Robin")
    driver.find_element(By.ID, "consent").click()
    driver.execute_script("document.getElementById('consent_on').value = '2026-11-02'")
    driver.find_element(By.ID, "supporter_name").send_keys("Pat")
    driver.find_element(By.ID, "supporter_help").send_keys("Read the questions out, and give time.")
    driver.find_element(By.CSS_SELECTOR, "[data-add-checker] button[type=submit]").click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-added]"), 10, "the new checker's page")
    assert "Robin is now a checker" in driver.find_element(By.CSS_SELECTOR, "[data-added]").text
    assert "Yes, on 2 November 2026" in driver.find_element(By.CSS_SELECTOR, "[data-consent]").text
    assert_accessible(driver, "manager-checker")
    driver.find_element(By.CSS_SELECTOR, "a[data-links]").click()  # next: their link and card
    wait_for(lambda: driver.current_url.endswith("/links"), 10, "their sign-in links")
    assert driver.find_elements(By.CSS_SELECTOR, "[data-no-links]"), "a new checker has no link until one is made"
