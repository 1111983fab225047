"""Issue 9's "done when", end to end: one checker's concern followed all the way round, in one stack like `make run`.

The form (headless Chromium, phone size) → the alert (API: who said it only as far as they agreed) → the site
manager's response (browser, session sign-in) → the checker's "is it better now?" on My checks → the site's
"You said, we did" board (the checker's own board link; axe-core clean) → the team's monthly feedback, withheld
until enough different checkers answered, then with its figures and trend, and never a name or a checker id.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest
import requests
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By

from qc.settings import TOPICS
from tests.conftest import read_topic, wait_for
from tests.e2e.conftest import assert_accessible, run_axe
from tests.e2e.own_stack import own_stack

pytestmark = pytest.mark.e2e

SITE, REGION = "S0007", "R07"  # demo-seed puts site i in region ((i - 1) % 12) + 1
QUESTIONS = [
    *("listened-to", "feel-safe", "home-clean", "choose-day", "respect", "know-complain", "see-people"),
    "things-will-get-better",
]
CONCERN = "respect"  # a key question of deploy/team-feedback.yaml and a safety question: "not good" raises an alert
CONCERN_COMMENT = "People come in the back door without knocking"
RESPONSE = "We fixed the lock on the back door and the staff now knock first."
EXTRA_CHECKERS = [("C90001", "Alexandra Extra"), ("C90002", "Bartholomew Extra")]
NOT_ENOUGH = "Not enough answers to show"


@pytest.fixture(scope="module")
def journey_stack(tmp_path_factory):
    """Broker, database, SMTP sink and all three services on free ports, with demo data, as `make run` has them."""
    var = tmp_path_factory.mktemp("journey")
    with own_stack(var, QC_RATE_LIMIT_SIGNIN_PER_MINUTE="0", QC_TEAM_FEEDBACK_MIN_ANSWERS="3") as stack:
        credentials = var / "journey-credentials.json"
        stack.run_cli("demo-seed", "--sites", "12", "--credentials", str(credentials))
        stack.start_services()
        stack.wait_ready(timeout=90)
        yield {"stack": stack, "urls": stack.urls(), "creds": json.loads(credentials.read_text())}


def _css(driver, selector):
    return driver.find_element(By.CSS_SELECTOR, selector)


def _visible(driver, selector):
    return [e for e in driver.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed()]


def _loaded(driver, url):
    driver.get(url)
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete", 10, url)


def _click_and_wait(driver, element):
    """Press something that loads a new page, and wait until the new page is there."""
    old = _css(driver, "html")
    element.click()

    def replaced():
        try:
            _ = old.tag_name
            return False
        except WebDriverException:  # stale (or mid-navigation): the old page is gone
            try:
                return driver.execute_script("return document.readyState") == "complete"
            except WebDriverException:
                return False

    wait_for(replaced, 10, "the next page")


def _app_step(driver) -> str | None:
    return driver.execute_script(
        "const s = [...document.querySelectorAll('[data-step]')].find(e => !e.hidden);"
        "return s ? s.getAttribute('data-step') : null;"
    )


def _continue_app(driver, expected_next):
    [button] = _visible(driver, "[data-next]")
    button.click()
    wait_for(lambda: _app_step(driver) == expected_next, 5, f"the {expected_next} screen")


def _send_check_in_the_form(driver, urls, token) -> str:
    """Step 1: sign in by link and send a check through the JavaScript form; its submission id."""
    driver.get(f"{urls['checks']}/s/{token}")
    wait_for(lambda: driver.current_url.rstrip("/") == urls["checks"], 10, "the start page after sign-in")
    _css(driver, "[data-start-check] button").click()
    wait_for(lambda: _app_step(driver) == "who", 10, "'Who is answering?'")
    _css(driver, "#answered-by").click()
    _continue_app(driver, "when")
    _continue_app(driver, "q-listened-to")
    submission_id = driver.execute_script(
        "return JSON.parse(localStorage.getItem('qc.draft.' + document.querySelector('meta[name=qc-checker]').content))"
        ".submission_id"
    )
    for index, qid in enumerate(QUESTIONS):
        _css(driver, f"#score-{qid}-{'1' if qid == CONCERN else '3'}").click()
        assert _visible(driver, f"#step-q-{qid} [data-name-when=anonymous]"), "private unless the checker chooses"
        if qid == CONCERN:
            _css(driver, f"#step-q-{qid} [data-comment-details] summary").click()  # "Tell us more"
            _css(driver, f"#comment-{qid}").send_keys(CONCERN_COMMENT)
        _continue_app(driver, f"q-{QUESTIONS[index + 1]}" if index + 1 < len(QUESTIONS) else "working")
    _continue_app(driver, "not-working")
    _continue_app(driver, "check")
    summary = _css(driver, "[data-summary]").text
    assert "Not good" in summary and CONCERN_COMMENT in summary
    assert "The manager can see your name" not in summary and "Your name is kept private" in summary
    _css(driver, "[data-send]").click()
    wait_for(lambda: _css(driver, "[data-send-status]").text == "Sent", 20, "'Sent'")
    return submission_id


def _manager_signs_in(driver, urls, manager):
    _loaded(driver, f"{urls['checks']}/manager/sign-in")
    _css(driver, "#username").send_keys(manager["username"])
    _css(driver, "#password").send_keys(manager["password"])
    _click_and_wait(driver, _css(driver, "main form button[type=submit]"))


def _api_check(urls, token, site_id, key_scores) -> str:
    body = {
        "submission_id": str(uuid.uuid4()),
        "site_id": site_id,
        "question_set": {"id": "everyday-life", "version": 2},
        "visited_on": dt.date.today().isoformat(),
        "answers": [{"question_id": q, "score": key_scores.get(q, 3), "comment": ""} for q in QUESTIONS],
    }
    sent = requests.post(
        f"{urls['checks']}/api/v1/submissions", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert sent.status_code == 202, sent.text
    return body["submission_id"]


def _status(urls, token, submission_id) -> str:
    r = requests.get(
        f"{urls['checks']}/api/v1/submissions/{submission_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    return r.json().get("status")


def test_a_concern_followed_from_the_form_to_the_board_and_the_team_feedback(journey_stack, browser_factory):
    urls, creds, stack = journey_stack["urls"], journey_stack["creds"], journey_stack["stack"]
    checker = next(c for c in creds["checkers"] if c["site_id"] == SITE)
    site_manager = next(m for m in creds["managers"] if m["site_id"] == SITE and m["role"] == "site_manager")
    regional = next(m for m in creds["managers"] if m["username"] == f"rm-{REGION.lower()}")
    month = dt.date.today().strftime("%Y-%m")
    secret_words = [checker["checker_id"], "Checker 0", *(cid for cid, _ in EXTRA_CHECKERS)]
    secret_words += [n for _, name in EXTRA_CHECKERS for n in name.split()[:1]]
    timings: dict[str, float] = {}
    started = last = time.monotonic()

    def lap(step):
        nonlocal last
        now = time.monotonic()
        timings[step] = now - last
        last = now

    # 1. The checker sends a check through the real form on a phone.
    phone = browser_factory(javascript=True)
    submission_id = _send_check_in_the_form(phone, urls, checker["token"])
    received = read_topic(
        stack.settings, TOPICS["received"], lambda evs: any(e["id"] == submission_id for e in evs), timeout=20
    )
    [data] = [e["data"] for e in received if e["id"] == submission_id]
    shares = {a["question_id"]: a["share"] for a in data["answers"]}
    assert shares == {q: "anonymous" for q in QUESTIONS}
    assert {a["question_id"]: a["score"] for a in data["answers"]}[CONCERN] == 1
    lap("form")

    # 2. The alert appears; its voices say "Anonymous" for the anonymous answer, and no checker id anywhere.
    token = requests.post(
        f"{urls['checks']}/api/v1/auth/token",
        json={"username": regional["username"], "password": regional["password"]},
        timeout=10,
    ).json()["access_token"]
    rm = {"Authorization": f"Bearer {token}"}

    def alert():
        r = requests.get(f"{urls['notify']}/api/v1/alerts?site_id={SITE}", headers=rm, timeout=5)
        found = [a for a in r.json()["alerts"] if submission_id in a["submission_ids"] and CONCERN in a["question_ids"]]
        return (found[0], r.text) if found else None

    found, raw = wait_for(alert, 40, "the alert from the checker's 'not good' answer")
    assert found["rule"] == "safety_not_good" and found["status"] == "open"
    concern_voices = [v for v in found["voices"] if v["question_id"] == CONCERN]
    assert concern_voices and all(v["from"] == "Anonymous" and not v["named"] for v in concern_voices)
    assert concern_voices[0]["comment"] == CONCERN_COMMENT
    assert checker["checker_id"] not in raw and "checker_id" not in raw, "no checker id anywhere in the API JSON"
    lap("alert")

    # 3. The site manager signs in and resolves it with what was done.
    office = browser_factory(javascript=True)
    office.set_window_size(1280, 900)
    _manager_signs_in(office, urls, site_manager)
    # They land on "Needs you today": the alert waits there, linked; axe-core clean at desktop and phone widths.
    assert office.current_url == f"{urls['notify']}/manager/today"
    assert f"/manager/alerts/{found['id']}" in _css(office, "[data-list=not-looked-at]").get_attribute("innerHTML")
    assert CONCERN_COMMENT not in office.page_source
    for size, screen in (((1280, 900), "manager-home"), ((390, 844), "manager-home-phone")):
        office.set_window_size(*size)
        assert_accessible(office, screen)
    office.set_window_size(1280, 900)
    _loaded(office, f"{urls['notify']}/manager/alerts/{found['id']}")
    assert "(they chose not to be named)" in _css(office, "ul.voices").text
    _css(office, "#response").send_keys(RESPONSE)
    _click_and_wait(office, _css(office, "form[action$='/resolve'] button[type=submit]"))
    resolved = requests.get(f"{urls['notify']}/api/v1/alerts/{found['id']}", headers=rm, timeout=5).json()
    assert resolved["status"] == "resolved" and resolved["response"] == RESPONSE
    lap("resolve")

    # 4. The checker sees the response on My checks and says it is better now.
    def response_shown():
        _loaded(phone, f"{urls['checks']}/my-checks")
        shown = _visible(phone, f"[data-check='{submission_id}'] [data-response]")
        return shown[0] if shown and RESPONSE in shown[0].text else None

    card = wait_for(response_shown, 40, "the manager's response on My checks", interval=0.5)
    _click_and_wait(phone, card.find_element(By.CSS_SELECTOR, "button[name=answer][value=better]"))
    _loaded(phone, f"{urls['checks']}/my-checks")
    feedback = _css(phone, f"[data-check='{submission_id}'] [data-feedback]")
    assert feedback.get_attribute("data-feedback") == "better" and "yes, it is better" in feedback.text
    lap("confirm")

    # 5. The board, by the checker's own board link: you said, we did, and it is better; no name; axe-core clean.
    board_link = _css(phone, "[data-board-link] a").get_attribute("href")
    assert board_link.startswith(f"{urls['notify']}/sites/{SITE}/board?t=")

    def board_item():
        _loaded(phone, board_link)
        items = [i for i in phone.find_elements(By.CSS_SELECTOR, "li.item") if "Is it better?" in i.text]
        return items[0] if items and RESPONSE in items[0].text else None

    item = wait_for(board_item, 40, "the board item with the checker's confirmation", interval=0.5)
    assert "You said staff do not always treat you with respect." in item.text
    assert f"We did:\n“{RESPONSE}”" in item.text
    assert _css(phone, f"li.item[data-item='{found['id']}'] [data-better]").text == "Is it better? People said: yes"
    assert not item.find_elements(By.CSS_SELECTOR, ".who"), "the anonymous answer shows no name"
    assert not any(word in phone.page_source for word in secret_words)
    assert CONCERN_COMMENT not in phone.page_source, "the checker's own words stay off the noticeboard"
    assert run_axe(phone) == []
    lap("board")

    # 6. Team feedback: withheld with one checker, shown with three, and never a name or a checker id.
    team_page = f"{urls['aggregate']}/manager/sites/{SITE}/team-feedback?period={month}"

    def section(question_id):
        return _css(office, f"section.tf[data-question='{question_id}']")

    def counted():
        r = requests.get(f"{urls['aggregate']}/api/v1/rollups/sites/{SITE}?period={month}", headers=rm, timeout=5)
        return r.status_code == 200 and r.json()["checks"] == 1

    wait_for(counted, 40, "the first check in the site's roll-up")  # so "withheld" is about too few people
    _loaded(office, team_page)
    withheld = section(CONCERN)
    assert NOT_ENOUGH in withheld.find_element(By.CSS_SELECTOR, f".withheld[data-month='{month}']").text
    assert not withheld.find_elements(By.CSS_SELECTOR, "ul.figures"), "no figures for one checker's answers"
    assert not withheld.find_elements(By.CSS_SELECTOR, "svg.share circle"), "no point on the chart either"

    extra = _add_checkers(stack, EXTRA_CHECKERS)
    sent = [
        (link_token, _api_check(urls, link_token, SITE, {CONCERN: score}))
        for link_token, score in zip(extra, (3, 2), strict=True)
    ]
    wait_for(
        lambda: all(_status(urls, t, s) == "validated" for t, s in sent), 40, "the two other checkers' checks counted"
    )

    def figures_shown():
        _loaded(office, team_page)
        shown = section(CONCERN).find_elements(By.CSS_SELECTOR, f"ul.figures[data-month='{month}']")
        return shown[0].text if shown else None

    figures = wait_for(figures_shown, 40, "the key question's figures with three different checkers", interval=0.5)
    assert "Good: 1" in figures and "OK: 1" in figures and "Not good: 1" in figures
    assert "Share good: 33% of 3 answers" in figures
    markers = section(CONCERN).find_elements(By.CSS_SELECTOR, "svg.share circle")
    assert len(markers) == 1, "the trend chart has this month's point (earlier months had too few answers)"
    assert section(CONCERN).find_element(By.CSS_SELECTOR, f"tr[data-month='{month}']").text.startswith(month)
    html = office.page_source
    assert not any(word in html for word in secret_words), "no names or checker ids on the team feedback page"
    assert run_axe(office) == []
    lap("team-feedback")

    total = time.monotonic() - started
    print(
        f"\ncoproduction journey: {total:.1f} s total; "
        + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items())
    )


def _add_checkers(stack, people) -> list[str]:
    """Add checkers at the journey's site (`qc directory import`) and make each a sign-in link; their tokens."""
    directory = stack.var_dir / "journey-people.json"
    directory.write_text(
        json.dumps(
            {
                "people": [
                    {"id": cid, "name": name, "role": "checker", "site_id": SITE, "region_id": REGION}
                    for cid, name in people
                ]
            }
        )
    )
    stack.run_cli("directory", "import", str(directory))
    return [stack.run_cli("checker-link", cid).strip().rsplit("/", 1)[1] for cid, _ in people]
