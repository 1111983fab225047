"""The checker's form in headless Chromium at phone size, against the services as real processes."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import re
import socket
import threading
import uuid

import pytest
import requests
from selenium.webdriver.common.by import By

from qc.settings import TOPICS
from tests.conftest import read_topic, wait_for
from tests.e2e.conftest import SCREENS, assert_accessible, run_axe, small_targets

pytestmark = pytest.mark.e2e
QUESTIONS = [
    *("listened-to", "feel-safe", "home-clean", "choose-day", "respect", "know-complain", "see-people"),
    "things-will-get-better",  # everyday-life v3: do you think things will get better here? (its own words)
]
SURE_WORDS = {"3": "Yes", "2": "Maybe", "1": "No", "skip": "I don't want to answer"}


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


def _validated(services, submission_id) -> dict:
    events = read_topic(
        services["settings"],
        TOPICS["validated"],
        lambda evs: any(e["data"]["submission_id"] == submission_id for e in evs),
    )
    matching = [e for e in events if e["data"]["submission_id"] == submission_id]
    assert len(matching) == 1, f"{len(matching)} validated events for {submission_id}"
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


def _who_and_when(driver, answered_by="alone"):
    """The first two screens: who is answering, and the visit today."""
    wait_for(lambda: _app_step(driver) == "who", 10, "'Who is answering?'")
    _css(driver, "#answered-by" if answered_by == "alone" else f"#answered-by-{answered_by}").click()
    _continue_app(driver, "when")
    _continue_app(driver, "q-listened-to")


def _spoken(driver) -> str:
    """What the screen's read-aloud button gives the speech synthesiser (caught, so the test hears no sound)."""
    driver.execute_script(
        "window.__said = []; speechSynthesis.cancel = () => {};"
        "speechSynthesis.getVoices = () => [{lang: 'en-GB'}];"  # a phone with a voice
        "speechSynthesis.speak = (u) => window.__said.push(u.text);"
    )
    [button] = _visible(driver, "button[data-read-aloud]")
    button.click()
    return driver.execute_script("return window.__said.join(' ')")


def _no_sideways_scroll(driver) -> bool:
    return driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def _scroll_to(driver, selector):
    """Bring part of a long screen into view (for its screenshot)."""
    driver.execute_script("document.querySelector(arguments[0]).scrollIntoView({block: 'center'})", selector)


def _set_date(driver, selector, iso):
    """Fill a date picker (a manager's page) the way a phone's picker does: the value is always ISO."""
    driver.execute_script(
        "const el = document.querySelector(arguments[0]); el.value = arguments[1];"
        "for (const type of ['input', 'change']) el.dispatchEvent(new Event(type, {bubbles: true}));",
        selector,
        iso,
    )


def _type_day(driver, iso: str) -> None:
    """Type a day into the day, month and year boxes, key by key, as a checker would."""
    day = dt.date.fromisoformat(iso)
    for box, value in (("#visited-on", day.day), ("#visited-on-month", day.month), ("#visited-on-year", day.year)):
        element = _css(driver, box)
        element.clear()
        element.send_keys(str(value))


def test_whole_check_with_javascript(form_services, browser_factory):
    """A new checker completes a check by link on a phone, every screen accessible, and it is sent once."""
    services = form_services
    driver = browser_factory(javascript=True)
    _sign_in(driver, services, "S0005")
    assert_accessible(driver, "01-start")
    _css(driver, "[data-start-check] button").click()
    wait_for(lambda: _app_step(driver) == "who", 10, "'Who is answering?'")
    assert _visible(driver, "button[data-read-aloud]"), "read aloud is offered where the browser can speak"
    assert_accessible(driver, "13-who")
    # Continue without a choice: a plain-words error, in a summary and next to the choices.
    _visible(driver, "[data-next]")[0].click()
    wait_for(lambda: _visible(driver, "[data-step-errors]"), 5, "the error summary")
    assert "Choose who is answering" in _visible(driver, "[data-step-errors]")[0].text
    _css(driver, "#answered-by-with_supporter").click()
    _continue_app(driver, "when")
    assert _css(driver, "#visited").is_selected(), "today unless the checker says another day"
    assert not _visible(driver, "#visited-on"), "the day box shows only for another day"
    _css(driver, "#visited-other").click()
    _scroll_to(driver, "#visited-on")
    assert_accessible(driver, "14-when-another-day")
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    _type_day(driver, tomorrow)
    _visible(driver, "[data-next]")[0].click()
    wait_for(lambda: _visible(driver, "[data-step-errors]"), 5, "the date error")
    assert "cannot be in the future" in _visible(driver, "[data-step-errors]")[0].text
    assert "cannot be in the future" in _css(driver, "#visited-on-error").text
    assert_accessible(driver, "15-when-error")
    visited = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    _type_day(driver, visited)
    _continue_app(driver, "q-listened-to")
    # Continue without an answer: a plain-words error, in a summary and next to the question.
    _visible(driver, "[data-next]")[0].click()
    wait_for(lambda: _visible(driver, "[data-step-errors]"), 5, "the error summary")
    assert "Choose an answer" in _visible(driver, "[data-step-errors]")[0].text
    assert_accessible(driver, "02-question-error")
    submission_id = driver.execute_script(
        "return JSON.parse(localStorage.getItem('qc.draft.' + document.querySelector('meta[name=qc-checker]').content))"
        ".submission_id"
    )
    choices = {"feel-safe": "1", "home-clean": "skip", "things-will-get-better": "2"}
    for index, qid in enumerate(QUESTIONS):
        if qid == "things-will-get-better":
            words = {k: _css(driver, f"label[for=score-{qid}-{k}]").text.strip() for k in SURE_WORDS}
            assert words == SURE_WORDS, "the question's own answer words, and still a way not to answer"
            assert _visible(driver, f"label[for=score-{qid}-2] svg.symbol-face-ok"), "the faces: yes, maybe, no"
            assert "Maybe" in _spoken(driver), "read aloud says the question's own words"
            assert "Question 8 of 8" in _visible(driver, "#step-q-things-will-get-better .caption")[0].text
            _scroll_to(driver, "#step-q-things-will-get-better .choices")
            assert_accessible(driver, "18-confidence")
        _css(driver, f"#score-{qid}-{choices.get(qid, '3')}").click()
        step = f"#step-q-{qid}"
        if index == 0:
            # One thing per screen: saying more waits behind "Tell us more"; the name is one line with "Change".
            assert not _css(driver, f"#comment-{qid}").is_displayed(), "closed until the checker asks"
            assert _visible(driver, f"{step} [data-name-when=anonymous]"), "private unless the checker chooses"
            assert not _visible(driver, f"{step} [data-name-when=named]")
            _css(driver, f"{step} [data-comment-details] summary").click()
            _css(driver, f"#comment-{qid}").send_keys("They listen most days")
            assert_accessible(driver, "03-question")
            _css(driver, f"{step} [data-name-reminder] a").click()
            wait_for(lambda: _app_step(driver) == "name", 5, "the screen that asks who can see the name")
            assert _css(driver, "#name_share").is_selected(), "private unless the checker chooses"
            assert_accessible(driver, "16-who-can-see-your-name")
            _css(driver, "#name_share-named").click()
            _css(driver, "[data-name-done]").click()
            back_to = f"q-{qid}"
            wait_for(lambda: _app_step(driver) == back_to, 5, "back to the question")  # noqa: B023 (waited for here)
            assert _css(driver, f"#score-{qid}-3").is_selected(), "the answer is still chosen"
        assert _visible(driver, f"{step} [data-name-when=named]"), "the reminder says what was chosen"
        assert not _visible(driver, f"{step} [data-name-when=anonymous]")
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
    assert "Do you think things will get better here?\nMaybe" in summary
    assert "Me, with a supporter helping" in summary and "The manager can see your name" in summary
    day = dt.date.fromisoformat(visited)
    assert f"{day.day} {day:%B %Y}" in summary
    assert_accessible(driver, "05-check-answers")
    _css(driver, "[data-send]").click()
    wait_for(lambda: _css(driver, "[data-send-status]").text == "Sent", 20, "'Sent'")
    assert_accessible(driver, "06-sent")
    data = _received_once(services, submission_id)
    assert data["checker_id"] == _checker(services, "S0005")["checker_id"]
    assert {a["question_id"]: a["score"] for a in data["answers"]}["feel-safe"] == 1
    assert {a["question_id"]: a["score"] for a in data["answers"]}["things-will-get-better"] == 2
    assert data["question_set"] == {"id": "everyday-life", "version": 3}
    assert data["working"] == ["the garden", "the cook"] and data["urgent_concern"] is None
    shares = {qid: "named" for qid in QUESTIONS}  # one choice for the whole check
    assert data["answered_by"] == "with_supporter" and data["visited_on"] == visited
    assert {a["question_id"]: a["share"] for a in data["answers"]} == shares
    assert data["texts_share"] == "named" and data["urgent_concern_share"] == "anonymous"
    validated = _validated(services, submission_id)
    assert validated["answered_by"] == "with_supporter" and validated["visited_on"] == visited
    assert {a["question_id"]: a["share"] for a in validated["answers"]} == shares
    assert validated["texts_share"] == "named" and validated["urgent_concern_share"] == "anonymous"
    driver.get(f"{services['url']}/my-checks")
    card = wait_for(lambda: _visible(driver, f"[data-check='{submission_id}']"), 10, "the check in My checks")[0]
    assert card.find_element(By.CSS_SELECTOR, "[data-status]").text in ("Sent", "Counted")
    assert "You answered with a supporter helping" in card.text
    assert_accessible(driver, "07-my-checks")


class _Link:
    """The phone's connection to the server: a TCP relay in front of it that the test can cut and restore.

    DevTools' offline emulation covers the page but not its service worker, whose fetches would still reach
    the server; cutting the connection itself is what a phone with no signal sees.
    """

    def __init__(self, target_url: str):
        host, port = target_url.split("//")[1].split(":")
        self.target = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.up = True
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if not self.up:
                client.close()  # no signal: the connection goes nowhere
                continue
            server = socket.create_connection(self.target)
            self.open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self):
        self.up = False
        for s in self.open:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self.open.clear()

    def restore(self):
        self.up = True

    def close(self):
        self.cut()
        self.listener.close()


@pytest.fixture
def link(form_services):
    relay = _Link(form_services["url"])
    yield relay
    relay.close()


def test_offline_part_way_waits_and_sends_once_with_the_same_id(form_services, browser_factory, link):
    """Offline after the first question: a reload still shows the form; the check waits, and is sent once."""
    services = {**form_services, "url": link.url}  # the phone reaches the server through a link we can cut
    driver = browser_factory(javascript=True)
    _sign_in(driver, services, "S0006")
    _css(driver, "[data-start-check] button").click()
    _who_and_when(driver)
    submission_id = driver.execute_script(
        "return JSON.parse(localStorage.getItem('qc.draft.' + document.querySelector('meta[name=qc-checker]').content))"
        ".submission_id"
    )
    _css(driver, "#score-listened-to-2").click()
    # The service worker keeps the page for offline use once it controls it.
    wait_for(
        lambda: driver.execute_script("return !!(navigator.serviceWorker && navigator.serviceWorker.controller)"),
        20,
        "the service worker to control /check/app",
    )
    link.cut()
    driver.execute_cdp_cmd("Network.enable", {})
    offline = {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0}
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", offline)
    wait_for(lambda: driver.execute_script("return navigator.onLine === false"), 5, "the phone to be offline")
    _continue_app(driver, "q-feel-safe")
    _css(driver, "#score-feel-safe-3").click()
    # Reload with no connection: the form comes back from the phone, with the answers so far, not an error page.
    driver.refresh()
    wait_for(lambda: _app_step(driver) == "q-feel-safe", 15, "the form after an offline reload")
    assert _css(driver, "#score-listened-to-2").is_selected() and _css(driver, "#score-feel-safe-3").is_selected()
    assert driver.execute_script("return navigator.onLine") is False
    with pytest.raises(requests.ConnectionError):  # the server really is out of reach: the page came from the phone
        requests.get(f"{link.url}/check/app", timeout=5)
    for index, qid in enumerate(QUESTIONS[1:], start=1):
        if qid != "feel-safe":
            _css(driver, f"#score-{qid}-3").click()
        _continue_app(driver, f"q-{QUESTIONS[index + 1]}" if index + 1 < len(QUESTIONS) else "working")
    _continue_app(driver, "not-working")
    _continue_app(driver, "check")
    _css(driver, "[data-send]").click()
    status = wait_for(lambda: _css(driver, "[data-send-status]").text, 5, "the send status")
    assert status == "Waiting to send — we will send it when you are back online."
    assert_accessible(driver, "08-waiting-to-send")
    assert _status(form_services, "S0006", submission_id).status_code == 404, "nothing reached the server offline"
    link.restore()
    online = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", online)
    wait_for(lambda: _css(driver, "[data-send-status]").text == "Sent", 30, "'Sent' once back online")
    data = _received_once(services, submission_id)
    assert {a["question_id"]: a["score"] for a in data["answers"]}["listened-to"] == 2
    assert _status(form_services, "S0006", submission_id).status_code == 200
    # Signing out empties the offline copy: the next person on this phone sees nothing of this checker's.
    driver.get(f"{services['url']}/how-i-like-it")
    assert _kept_pages(driver) == ["/check/app"]
    _submit(driver, "[data-sign-out]")  # nothing unsent is left: one press signs out
    wait_for(lambda: _kept_pages(driver) == [], 10, "the offline copy to be emptied on sign-out")


def _kept_pages(driver) -> list[str]:
    """The pages the service worker keeps for offline use."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "caches.keys().then(names => Promise.all(names.filter(n => n.startsWith('qc-app-')).map(n => caches.open(n)"
        "  .then(c => c.keys())))).then(lists => done([].concat(...lists).map(r => new URL(r.url).pathname)"
        "  .filter(p => !p.startsWith('/static/'))), e => done(['error: ' + e]));"
    )


def test_whole_check_without_javascript(form_services, browser_factory):
    """The core path with JavaScript off: one question per screen, check answers, sent; axe on each screen."""
    services = form_services
    driver = browser_factory(javascript=False)
    checker = browser_factory(javascript=True)  # axe needs JavaScript: it reads the same server pages
    _sign_in(driver, services, "S0007")
    _sign_in(checker, services, "S0007")

    def screen(name, scroll_to=None):
        """The screenshot is this browser's own render, JavaScript off (an error shown, no Read aloud); axe needs
        JavaScript, so the other browser reads the same HTML, put in place on the same address without its scripts."""
        html = driver.execute_script("return document.documentElement.innerHTML")
        checker.get(driver.current_url)
        checker.execute_script("document.documentElement.innerHTML = arguments[0]", html)
        violations = run_axe(checker)
        assert violations == [], f"axe-core on {name!r} ({driver.current_url}):\n" + json.dumps(violations, indent=1)
        assert small_targets(driver) == [], f"touch targets under 44 x 44 CSS px on {name!r}"
        if scroll_to:
            _scroll_to(driver, scroll_to)
        SCREENS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENS / f"{name}.png"))

    _submit(driver, "[data-start-check] button")
    draft_id = driver.current_url.split("/check/")[1].split("/")[0]
    assert driver.current_url.endswith("/who")
    assert not _visible(driver, "button[data-read-aloud]"), "no read aloud button without JavaScript"
    screen("nojs-06-who")
    _css(driver, "#answered-by-supporter_wrote").click()
    _submit(driver)
    assert driver.current_url.endswith("/when")
    # Without JavaScript (and where :has is supported) the day box still shows once "another day" is chosen.
    _css(driver, "#visited-other").click()
    wait_for(lambda: _visible(driver, "#visited-on"), 5, "the day box")
    _submit(driver)
    assert "Write the day, month and year you visited" in _css(driver, ".error-summary").text
    assert driver.title.startswith("Error:")
    screen("nojs-07-when-error")
    _css(driver, "#visited").click()
    _submit(driver)
    assert driver.current_url.endswith("/q-listened-to")
    screen("nojs-01-question")
    _submit(driver)
    assert "Choose an answer" in _css(driver, ".error-summary").text
    assert driver.title.startswith("Error:")
    for qid in QUESTIONS:
        if qid == "things-will-get-better":
            assert "Question 8 of 8" in _css(driver, "main").text
            assert [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".choice__label")][:4] == list(
                SURE_WORDS.values()
            )
            screen("nojs-08-confidence", ".choices")
        _css(driver, f"#score-{qid}-{'1' if qid == 'respect' else '3'}").click()
        _submit(driver)
    assert driver.current_url.endswith("/working")
    screen("nojs-02-working")
    _css(driver, "textarea[name=items]").send_keys("the garden")
    _submit(driver)
    _submit(driver)
    assert driver.current_url.endswith("/check")
    assert "Yes" in _css(driver, "[data-row=things-will-get-better]").text
    assert "Your name is kept private" in _css(driver, "[data-row=name]").text
    screen("nojs-03-check-answers")
    _css(driver, "[data-row=name] a").click()
    assert "Who can see your name?" in _css(driver, "h1").text
    screen("nojs-09-your-name")
    _css(driver, "#share-named").click()
    _submit(driver, "main form button[type=submit]")
    assert driver.current_url.endswith("/check")
    assert "The manager can see your name" in _css(driver, "[data-row=name]").text
    _submit(driver, "[data-worried-link]")
    assert "the safeguarding lead" in _css(driver, "main").text
    screen("nojs-04-worried")
    assert "the safeguarding lead still has to do something" in _css(driver, "main").text
    _css(driver, "#concern").send_keys("Someone shouts at night")
    _css(driver, "#share-concern-named").click()
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
    assert data["answered_by"] == "supporter_wrote" and data["visited_on"] == dt.date.today().isoformat()
    assert {a["share"] for a in data["answers"]} == {"named"}, "one choice for the whole check"
    assert data["urgent_concern_share"] == "named" and data["texts_share"] == "named"


def test_how_i_like_it_changes_the_form(form_services, browser_factory):
    """Very large text, words only, no read aloud, all questions on one screen: the form honours each."""
    services = form_services
    driver = browser_factory(javascript=True)
    _sign_in(driver, services, "S0008")
    driver.get(f"{services['url']}/how-i-like-it")
    assert_accessible(driver, "09-how-i-like-it")
    # "Stop my link" asks first, and going back stops nothing.
    _css(driver, "[data-stop-link]").click()
    wait_for(lambda: "Are you sure" in _css(driver, "h1").text, 10, "the question before a link is stopped")
    assert_accessible(driver, "23-stop-my-link")
    driver.find_element(By.LINK_TEXT, "No, keep my link").click()
    wait_for(lambda: _css(driver, "h1").text == "How I like it", 10, "back on How I like it, still signed in")
    for choice in ("pictures-words", "read_aloud-off", "text_size-very-large", "per_screen-all"):
        _css(driver, f"#{choice}").click()
    _submit(driver, "main form button[type=submit]")
    assert "Saved" in _css(driver, ".notification").text
    driver.get(f"{services['url']}/check/app#questions")
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
    assert "the safeguarding lead still has to do something" in _css(driver, "#step-worried").text
    assert _css(driver, "#share-concern").is_selected(), "the name is private unless the checker chooses"
    _scroll_to(driver, "[data-share=share-concern]")
    assert_accessible(driver, "17-worried-who-can-see-this")
    check_id = driver.execute_script(
        "return JSON.parse(localStorage.getItem('qc.draft.' + document.querySelector('meta[name=qc-checker]').content))"
        ".submission_id"
    )
    _css(driver, "#concern").send_keys("The fire door is locked at night")
    _css(driver, "[data-send-worry]").click()
    # The worry goes on its own; the check stays on the phone to finish.
    wait_for(lambda: _css(driver, "[data-worry-status]").text == "Thank you for telling us.", 20, "the worry sent")
    assert "Your worry has been sent" in _css(driver, "[data-worry-panel] h1").text
    assert_accessible(driver, "21-worry-sent")
    submission_id = driver.execute_script(
        "const checker = document.querySelector('meta[name=qc-checker]').content;"
        "return JSON.parse(localStorage.getItem('qc.outbox.' + checker))"
        ".filter(function (i) { return i.body.kind === 'worry'; })[0].body.submission_id"
    )
    assert submission_id != check_id
    _css(driver, "[data-carry-on]").click()
    wait_for(lambda: _app_step(driver) != "worry-sent", 10, "back to the check")
    kept = driver.execute_script(
        "return JSON.parse(localStorage.getItem('qc.draft.' + document.querySelector('meta[name=qc-checker]').content))"
    )
    assert kept["submission_id"] == check_id and kept["values"].get("concern") == "", "kept, without the worry"
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


def test_my_contribution_and_its_printable_record(form_services, browser_factory):
    """A manager writes down time and training; the checker sees it, reads it aloud and prints it on one A4 page."""
    services = form_services
    checker = _checker(services, "S0012")
    body = {
        "submission_id": str(uuid.uuid4()),
        "site_id": "S0012",
        "question_set": {"id": "everyday-life", "version": 2},
        "visited_on": dt.date.today().isoformat(),
        "answers": [{"question_id": q, "score": 3, "comment": ""} for q in QUESTIONS],
    }
    sent = requests.post(
        f"{services['url']}/api/v1/submissions",
        json=body,
        headers={"Authorization": f"Bearer {checker['token']}"},
        timeout=10,
    )
    assert sent.status_code == 202, sent.text

    # The manager's page: sign in, a mistake first (plain errors), then two entries.
    manager = next(m for m in services["creds"]["managers"] if m["role"] == "org_admin")
    office = browser_factory(javascript=True)
    office.get(f"{services['url']}/manager/sign-in")
    _css(office, "#username").send_keys(manager["username"])
    _css(office, "#password").send_keys(manager["password"])
    _submit(office, "main form button[type=submit]")
    office.get(f"{services['url']}/manager/checkers")
    assert _visible(office, "main .link-list a"), "an organisation-wide manager chooses a region first"
    assert_accessible(office, "manager-checkers")
    page = f"{services['url']}/manager/checkers/{checker['checker_id']}/contributions"
    office.get(page)
    _css(office, "#hours").send_keys("30")
    _submit(office, "[data-add-entry] button[type=submit]")
    assert "Enter between 0 and 24 hours" in _css(office, ".error-summary").text
    assert "Enter between 0 and 24 hours" in _css(office, "#hours-error").text
    assert_accessible(office, "manager-contributions-error")
    for day, kind, hours, title in (
        ("2026-10-02", "kind-training", "3", "Safeguarding awareness course"),
        (dt.date.today().isoformat(), "kind", "2", "Check visit"),  # the first choice: check visit time
    ):
        _set_date(office, "#date", day)
        _css(office, f"#{kind}").click()
        _css(office, "#hours").clear()
        _css(office, "#hours").send_keys(hours)
        _css(office, "#title").clear()
        _css(office, "#title").send_keys(title)
        _submit(office, "[data-add-entry] button[type=submit]")
        assert "The entry has been added" in _css(office, "[data-saved]").text
    assert_accessible(office, "manager-contributions")
    assert _no_sideways_scroll(office), "the page fits a phone; only the table of entries scrolls"

    # The checker's page, easy read and read aloud.
    driver = browser_factory(javascript=True)
    _sign_in(driver, services, "S0012")
    driver.get(f"{services['url']}/my-checks")
    _submit(driver, "main a[href='/my-contribution']")
    assert _css(driver, "[data-checks-done]").text == "1" and _css(driver, "[data-hours]").text == "5 hours"
    assert "Safeguarding awareness course – 2 October 2026" in _css(driver, "[data-training]").text
    said = _spoken(driver)
    assert "Checks you have done" in said and "5 hours" in said and "Safeguarding awareness course" in said
    assert_accessible(driver, "19-my-contribution")
    assert _no_sideways_scroll(driver)

    # The printable record: on screen, then as the printer sees it, on one A4 page.
    _submit(driver, "[data-print-link]")
    assert _visible(driver, "button[data-print]"), "a Print button where the browser can print"
    sheet = _css(driver, "[data-record-sheet]").text
    for words in ("Quality checker: visits services and tells managers what is working", "Checks done\n1", "5 hours"):
        assert words in sheet, words
    _scroll_to(driver, "[data-record-sheet]")
    assert_accessible(driver, "20-my-contribution-print")
    assert _no_sideways_scroll(driver)
    page_sizes = driver.execute_script(
        "return [...document.styleSheets].flatMap(s => [...s.cssRules])"
        ".filter(r => r instanceof CSSPageRule).map(r => r.style.getPropertyValue('size'))"
    )
    assert [s.upper() for s in page_sizes] == ["A4"]
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not _visible(driver, "header") and not _visible(driver, "[data-worried-link]")
    assert not _visible(driver, "[data-print]") and _visible(driver, "[data-record-sheet]")
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    pdf = base64.b64decode(driver.execute_cdp_cmd("Page.printToPDF", {"preferCSSPageSize": True})["data"])
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert len(boxes) == 1, f"{len(boxes)} pages"  # one page ...
    width, height = (float(x) for x in boxes[0])
    assert abs(width - 595.3) < 1.5 and abs(height - 841.9) < 1.5, boxes  # ... of A4 (210 x 297 mm in points)


def test_a_phone_draft_begun_on_v1_carries_on_at_the_new_question(form_services, browser_factory):
    """A draft kept on the phone by the old form (no version in it) resumes at the question it has not answered."""
    services = form_services
    driver = browser_factory(javascript=True)
    _sign_in(driver, services, "S0013")
    checker_id = _checker(services, "S0013")["checker_id"]
    submission_id = str(uuid.uuid4())
    old = {f"score-{qid}": "3" for qid in QUESTIONS[:7]}
    draft = {"submission_id": submission_id, "values": {**old, "answered_by": "alone"}, "step": "check"}
    driver.execute_script(
        "localStorage.setItem(arguments[0], JSON.stringify(arguments[1]))", f"qc.draft.{checker_id}", draft
    )
    driver.get(f"{services['url']}/check/app")
    wait_for(lambda: _app_step(driver) == "q-things-will-get-better", 10, "the new question")
    assert _css(driver, "#score-see-people-3").is_selected(), "the answers given before are kept"
    _css(driver, "#score-things-will-get-better-1").click()
    _continue_app(driver, "working")
    driver.get(f"{services['url']}/check/app#check")
    wait_for(lambda: _app_step(driver) == "check", 10, "check your answers")
    assert "Do you think things will get better here?\nNo" in _css(driver, "[data-summary]").text
    _css(driver, "[data-send]").click()
    wait_for(lambda: _css(driver, "[data-send-status]").text == "Sent", 20, "'Sent'")
    data = _received_once(services, submission_id)
    assert data["question_set"] == {"id": "everyday-life", "version": 3}
    assert {a["question_id"]: a["score"] for a in data["answers"]} == {
        **dict.fromkeys(QUESTIONS[:7], 3),
        QUESTIONS[7]: 1,
    }


def test_a_check_not_counted_is_changed_and_sent_again_from_my_checks(form_services, browser_factory):
    """An older app sent an answer to a question the form no longer has: the validator does not count it; the
    checker opens it again from My checks with its answers, sends it, and it is counted."""
    services = form_services
    site = "S0017"
    body = {
        "submission_id": str(uuid.uuid4()),
        "site_id": site,
        "question_set": {"id": "everyday-life", "version": 2},
        "visited_on": dt.date.today().isoformat(),
        "answers": [{"question_id": q, "score": 1 if q == "home-clean" else 3, "comment": ""} for q in QUESTIONS]
        + [{"question_id": "a-question-from-an-old-app", "score": 2, "comment": ""}],
    }
    sent = requests.post(
        f"{services['url']}/api/v1/submissions",
        json=body,
        headers={"Authorization": f"Bearer {_checker(services, site)['token']}"},
        timeout=10,
    )
    assert sent.status_code == 202, sent.text
    wait_for(lambda: _status(services, site, body["submission_id"]).json().get("status") == "rejected", 30, "rejected")
    driver = browser_factory(javascript=True)
    _sign_in(driver, services, site)
    driver.get(f"{services['url']}/my-checks")
    card = f"[data-check='{body['submission_id']}']"
    assert "Not counted" in _css(driver, f"{card} [data-status]").text
    _scroll_to(driver, f"{card} [data-send-again]")
    assert_accessible(driver, "24-my-checks-not-counted")
    _submit(driver, f"{card} [data-send-again] button")
    assert driver.current_url.endswith("/check?return=check"), "the answers to look at, ready to send"
    assert "Not good" in _css(driver, "[data-row=home-clean]").text, "the answers are kept"
    new_id = driver.current_url.split("/check/")[1].split("/")[0]
    _submit(driver, "main form button[type=submit]")
    assert "Your check has been sent" in _css(driver, "h1").text
    wait_for(lambda: _status(services, site, new_id).json().get("status") == "validated", 30, "the new check counted")
    assert {a["question_id"]: a["score"] for a in _validated(services, new_id)["answers"]}["home-clean"] == 1
    driver.get(f"{services['url']}/my-checks")
    assert "You changed this check and sent it again." in _css(driver, card).text
    assert not driver.find_elements(By.CSS_SELECTOR, f"{card} [data-send-again]")
    assert "Counted" in _css(driver, f"[data-check='{new_id}'] [data-status]").text


def test_a_phone_with_no_speech_reads_the_questions_and_answers_from_recordings(form_services, browser_factory):
    """No speechSynthesis at all (many cheap phones): Read aloud plays the recordings, in the order on the screen."""
    services = form_services
    driver = browser_factory(javascript=True)
    driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {
            "source": "delete Window.prototype.speechSynthesis; delete window.speechSynthesis;"
            "window.__played = [];"  # caught, so the test plays no sound; each 'ends' at once
            "HTMLMediaElement.prototype.play = function () {"
            "  window.__played.push(new URL(this.src).pathname);"
            "  setTimeout(() => this.dispatchEvent(new Event('ended')), 0); return Promise.resolve(); };"
        },
    )
    _sign_in(driver, services, "S0018")
    driver.get(f"{services['url']}/check/app#q-feel-safe")
    wait_for(lambda: _app_step(driver) == "q-feel-safe", 10, "the question")
    assert driver.execute_script("return !('speechSynthesis' in window)"), "this phone cannot speak"
    assert not _visible(driver, "#step-who [data-read-aloud]"), "nothing recorded on that screen: no button"
    [button] = _visible(driver, "#step-q-feel-safe [data-read-aloud]")
    button.click()
    expected = [
        e.get_attribute("data-audio") for e in driver.find_elements(By.CSS_SELECTOR, "#step-q-feel-safe [data-audio]")
    ]
    assert len(expected) == 6, "the question, its hint and four answers"
    wait_for(lambda: driver.execute_script("return window.__played.length") == 6, 10, "every recording played")
    assert driver.execute_script("return window.__played") == expected, "in the order they are on the screen"
    for url in expected:
        with requests.get(f"{services['url']}{url}", timeout=5) as r:
            assert r.status_code == 200 and r.headers["Content-Type"] == "audio/wav"
