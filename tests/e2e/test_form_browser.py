"""The checker's form in headless Chromium at phone size, against the services as real processes."""

from __future__ import annotations

import json

import pytest
import requests
from selenium.webdriver.common.by import By

from qc.settings import TOPICS
from tests.conftest import read_topic, wait_for
from tests.e2e.conftest import assert_accessible

pytestmark = pytest.mark.e2e
QUESTIONS = ["listened-to", "feel-safe", "home-clean", "choose-day", "respect", "know-complain", "see-people"]


def _checker(services, site_id):
    return next(c for c in services["creds"]["checkers"] if c["site_id"] == site_id)


def _sign_in(driver, services, site_id):
    driver.get(f"{services['url']}/s/{_checker(services, site_id)['token']}")
    wait_for(lambda: driver.current_url.rstrip("/") == services["url"], 10, "the start page after sign-in")


def _css(driver, selector):
    return driver.find_element(By.CSS_SELECTOR, selector)


def _visible(driver, selector):
    return [e for e in driver.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed()]


def _received_once(services, submission_id) -> dict:
    events = read_topic(
        services["settings"], TOPICS["received"], lambda evs: any(e["id"] == submission_id for e in evs)
    )
    matching = [e for e in events if e["id"] == submission_id]
    assert len(matching) == 1, f"{len(matching)} events for {submission_id}"
    return matching[0]["data"]


def _status(services, site_id, submission_id) -> requests.Response:
    token = _checker(services, site_id)["token"]
    return requests.get(
        f"{services['url']}/api/v1/submissions/{submission_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def _submit(driver, selector="form[data-screen] button[type=submit]"):
    """Press a button that loads a new page, and wait until the new page is there."""
    from selenium.common.exceptions import WebDriverException

    old = _css(driver, "html")
    _css(driver, selector).click()

    def replaced():
        try:
            _ = old.tag_name
            return False
        except WebDriverException:
            # Stale, or (mid-navigation) "node does not belong to the document": the old page is gone.
            try:
                return driver.execute_script("return document.readyState") == "complete"
            except WebDriverException:
                return False

    wait_for(replaced, 10, "the next page")


def _app_step(driver) -> str:
    return driver.execute_script(
        "const s = [...document.querySelectorAll('[data-step]')].find(e => !e.hidden);"
        "return s ? s.getAttribute('data-step') : null;"
    )


def _continue_app(driver, expected_next):
    [button] = _visible(driver, "[data-next]")
    button.click()
    wait_for(lambda: _app_step(driver) == expected_next, 5, f"the {expected_next} screen")


def test_whole_check_with_javascript(form_services, browser_factory):
    """A new checker completes a check by link on a phone, every screen accessible, and it is sent once."""
    services = form_services
    driver = browser_factory(javascript=True)
    _sign_in(driver, services, "S0005")
    assert_accessible(driver, "01-start")
    _css(driver, "[data-start-check] button").click()
    wait_for(lambda: _app_step(driver) == "q-listened-to", 10, "the first question")
    assert _visible(driver, "button[data-read-aloud]"), "read aloud is offered where the browser can speak"
    # Continue without an answer: a plain-words error, in a summary and next to the question.
    _visible(driver, "[data-next]")[0].click()
    wait_for(lambda: _visible(driver, "[data-step-errors]"), 5, "the error summary")
    assert "Choose an answer" in _visible(driver, "[data-step-errors]")[0].text
    assert_accessible(driver, "02-question-error")
    submission_id = driver.execute_script(
        "return JSON.parse(localStorage.getItem('qc.draft.' + document.querySelector('meta[name=qc-checker]').content))"
        ".submission_id"
    )
    choices = {"feel-safe": "1", "home-clean": "skip"}
    for index, qid in enumerate(QUESTIONS):
        _css(driver, f"#score-{qid}-{choices.get(qid, '3')}").click()
        if index == 0:
            _css(driver, f"#comment-{qid}").send_keys("They listen most days")
            assert_accessible(driver, "03-question")
        _continue_app(driver, f"q-{QUESTIONS[index + 1]}" if index + 1 < len(QUESTIONS) else "working")
    # The draft is on the phone: a reload keeps every answer.
    driver.refresh()
    wait_for(lambda: _app_step(driver) == "working", 10, "the working screen after a reload")
    assert _css(driver, "#score-feel-safe-1").is_selected()
    _css(driver, "#working-items").send_keys("the garden\nthe cook")
    assert_accessible(driver, "04-working")
    _continue_app(driver, "not-working")
    _css(driver, "#not-working-items").send_keys("the night shift")
    _continue_app(driver, "check")
    summary = _css(driver, "[data-summary]").text
    assert "Not good" in summary and "They listen most days" in summary and "the cook" in summary
    assert_accessible(driver, "05-check-answers")
    _css(driver, "[data-send]").click()
    wait_for(lambda: _css(driver, "[data-send-status]").text == "Sent", 20, "'Sent'")
    assert_accessible(driver, "06-sent")
    data = _received_once(services, submission_id)
    assert data["checker_id"] == _checker(services, "S0005")["checker_id"]
    assert {a["question_id"]: a["score"] for a in data["answers"]}["feel-safe"] == 1
    assert data["working"] == ["the garden", "the cook"] and data["urgent_concern"] is None
    driver.get(f"{services['url']}/my-checks")
    card = wait_for(lambda: _visible(driver, f"[data-check='{submission_id}']"), 10, "the check in My checks")[0]
    assert card.find_element(By.CSS_SELECTOR, "[data-status]").text in ("Sent", "Checked")
    assert_accessible(driver, "07-my-checks")


def test_offline_part_way_waits_and_sends_once_with_the_same_id(form_services, browser_factory):
    """Offline after the first question: the check is finished, waits, and is sent once when back online."""
    services = form_services
    driver = browser_factory(javascript=True)
    _sign_in(driver, services, "S0006")
    _css(driver, "[data-start-check] button").click()
    wait_for(lambda: _app_step(driver) == "q-listened-to", 10, "the first question")
    submission_id = driver.execute_script(
        "return JSON.parse(localStorage.getItem('qc.draft.' + document.querySelector('meta[name=qc-checker]').content))"
        ".submission_id"
    )
    _css(driver, "#score-listened-to-2").click()
    driver.execute_cdp_cmd("Network.enable", {})
    offline = {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0}
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", offline)
    wait_for(lambda: driver.execute_script("return navigator.onLine === false"), 5, "the phone to be offline")
    _continue_app(driver, "q-feel-safe")
    for index, qid in enumerate(QUESTIONS[1:], start=1):
        _css(driver, f"#score-{qid}-3").click()
        _continue_app(driver, f"q-{QUESTIONS[index + 1]}" if index + 1 < len(QUESTIONS) else "working")
    _continue_app(driver, "not-working")
    _continue_app(driver, "check")
    _css(driver, "[data-send]").click()
    status = wait_for(lambda: _css(driver, "[data-send-status]").text, 5, "the send status")
    assert status == "Waiting to send — we will send it when you are back online."
    assert_accessible(driver, "08-waiting-to-send")
    assert _status(services, "S0006", submission_id).status_code == 404, "nothing reached the server while offline"
    online = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", online)
    wait_for(lambda: _css(driver, "[data-send-status]").text == "Sent", 30, "'Sent' once back online")
    data = _received_once(services, submission_id)
    assert {a["question_id"]: a["score"] for a in data["answers"]}["listened-to"] == 2
    assert _status(services, "S0006", submission_id).status_code == 200


def test_whole_check_without_javascript(form_services, browser_factory):
    """The core path with JavaScript off: one question per screen, check answers, sent; axe on each screen."""
    services = form_services
    driver = browser_factory(javascript=False)
    checker = browser_factory(javascript=True)  # axe needs JavaScript: it reads the same server pages
    _sign_in(driver, services, "S0007")
    _sign_in(checker, services, "S0007")

    def screen(name):
        checker.get(driver.current_url)
        assert_accessible(checker, name)

    _submit(driver, "[data-start-check] button")
    draft_id = driver.current_url.split("/check/")[1].split("/")[0]
    assert driver.current_url.endswith("/q-listened-to")
    assert not _visible(driver, "button[data-read-aloud]"), "no read aloud button without JavaScript"
    screen("nojs-01-question")
    _submit(driver)
    assert "Choose an answer" in _css(driver, ".error-summary").text
    assert driver.title.startswith("Error:")
    for qid in QUESTIONS:
        _css(driver, f"#score-{qid}-{'1' if qid == 'respect' else '3'}").click()
        _submit(driver)
    assert driver.current_url.endswith("/working")
    screen("nojs-02-working")
    _css(driver, "textarea[name=items]").send_keys("the garden")
    _submit(driver)
    _submit(driver)
    assert driver.current_url.endswith("/check")
    screen("nojs-03-check-answers")
    _submit(driver, "[data-worried-link]")
    assert "the safeguarding lead" in _css(driver, "main").text
    screen("nojs-04-worried")
    _css(driver, "#concern").send_keys("Someone shouts at night")
    _submit(driver, "button[value=save]")
    assert driver.current_url.endswith("/check")
    assert "Someone shouts at night" in _css(driver, "[data-row=worried]").text
    _submit(driver, "main form button[type=submit]")
    assert driver.current_url.endswith(f"/check/{draft_id}/sent")
    assert "Your check has been sent" in _css(driver, "h1").text
    screen("nojs-05-sent")
    data = _received_once(services, draft_id)
    assert data["urgent_concern"] == "Someone shouts at night"
    assert {a["question_id"]: a["score"] for a in data["answers"]}["respect"] == 1


def test_how_i_like_it_changes_the_form(form_services, browser_factory):
    """Very large text, words only, no read aloud, all questions on one screen: the form honours each."""
    services = form_services
    driver = browser_factory(javascript=True)
    _sign_in(driver, services, "S0008")
    driver.get(f"{services['url']}/how-i-like-it")
    assert_accessible(driver, "09-how-i-like-it")
    for choice in ("pictures-words", "read_aloud-off", "text_size-very-large", "per_screen-all"):
        _css(driver, f"#{choice}").click()
    _submit(driver, "main form button[type=submit]")
    assert "Saved" in _css(driver, ".notification").text
    driver.get(f"{services['url']}/check/app")
    wait_for(lambda: _app_step(driver) == "questions", 10, "all questions on one screen")
    assert len(_visible(driver, "[data-question]")) == len(QUESTIONS)
    assert not _visible(driver, "main svg") and not _visible(driver, "button[data-read-aloud]")
    size = driver.execute_script("return getComputedStyle(document.documentElement).fontSize")
    assert size == "24px"
    assert_accessible(driver, "10-all-questions-very-large")


def test_my_checks_shows_what_managers_did(form_services, browser_factory):
    """'You said, we did': a resolved alert's response is shown on My checks."""
    services = form_services
    driver = browser_factory(javascript=True)
    _sign_in(driver, services, "S0009")
    driver.get(f"{services['url']}/check/app#worried")
    wait_for(lambda: _app_step(driver) == "worried", 10, "the worried screen")
    assert_accessible(driver, "11-worried")
    submission_id = driver.execute_script(
        "return JSON.parse(localStorage.getItem('qc.draft.' + document.querySelector('meta[name=qc-checker]').content))"
        ".submission_id"
    )
    _css(driver, "#concern").send_keys("The fire door is locked at night")
    _css(driver, "[data-send-worry]").click()
    wait_for(lambda: _css(driver, "[data-send-status]").text == "Sent", 20, "'Sent'")
    manager = next(m for m in services["creds"]["managers"] if m["role"] == "safeguarding_lead")
    token = requests.post(
        f"{services['url']}/api/v1/auth/token",
        json={"username": manager["username"], "password": manager["password"]},
        timeout=10,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    notify = services["url"].rsplit(":", 1)[0] + f":{services['settings'].notify_port}"

    def alert():
        r = requests.get(f"{notify}/api/v1/alerts?site_id=S0009", headers=headers, timeout=5)
        return next((a for a in r.json()["alerts"] if submission_id in a["submission_ids"]), None)

    found = wait_for(alert, 40, "the urgent concern alert")
    done = requests.post(
        f"{notify}/api/v1/alerts/{found['id']}/resolve",
        headers=headers,
        json={"response": "We have unlocked the fire door and checked it every night."},
        timeout=5,
    )
    assert done.status_code == 200, done.text

    def response_shown():
        driver.get(f"{services['url']}/my-checks")
        cards = _visible(driver, f"[data-check='{submission_id}'] [data-response]")
        return cards and "unlocked the fire door" in cards[0].text

    wait_for(response_shown, 40, "the manager's response on My checks", interval=1)
    assert_accessible(driver, "12-my-checks-response")
    assert json.loads(json.dumps(_status(services, "S0009", submission_id).json()))["responses"]
