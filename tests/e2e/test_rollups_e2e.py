"""Roll-ups with the services as processes: independent recount, replay under live workers, the region page."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import uuid
from collections import Counter

import pytest
import requests
from pymongo import MongoClient

from qc_tools.demo_checks import generate, send_demo_checks
from tests.conftest import wait_for
from tests.e2e.conftest import SCREENS, run_axe

pytestmark = pytest.mark.e2e
BANDS = {3: "good", 2: "ok", 1: "not_good", None: "skipped"}
ANSWERED_BY = ("alone", "with_supporter", "supporter_wrote")


def _token(url, creds, username):
    password = next(m["password"] for m in creds["managers"] if m["username"] == username)
    response = requests.post(f"{url}/api/v1/auth/token", json={"username": username, "password": password}, timeout=10)
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _org(urls, admin, month):
    return requests.get(f"{urls['aggregate']}/api/v1/rollups/org?period={month}", headers=admin, timeout=10).json()


def test_figures_match_an_independent_recount(form_services, stack):
    urls, creds = stack.urls(), form_services["creds"]
    admin = _token(urls["checks"], creds, "admin")
    today = dt.date.today()
    months = sorted({(today - dt.timedelta(days=d)).strftime("%Y-%m") for d in range(61)})
    before = {m: _org(urls, admin, m) for m in months}

    generated = generate(creds, 300, seed=11, today=today)
    figures = send_demo_checks(urls["checks"], creds, 300, seed=11)
    assert figures == {"sent": 300, "accepted": 300, "failed": 0}

    # The independent recount, straight from what was sent.
    expected = {m: {"checks": 0, "bands": Counter()} for m in months}
    for _checker_token, body in generated:
        month = body["visited_on"][:7]
        expected[month]["checks"] += 1
        for answer in body["answers"]:
            expected[month]["bands"][(answer["question_id"], BANDS[answer["score"]])] += 1

    def all_counted():
        return all(_org(urls, admin, m)["checks"] - before[m]["checks"] == expected[m]["checks"] for m in months)

    wait_for(all_counted, 60, "all 300 checks in the organisation roll-ups")
    for month in months:
        after = _org(urls, admin, month)
        for (question, band), n in expected[month]["bands"].items():
            was = before[month]["questions"].get(question, {}).get(band, 0)
            assert after["questions"][question][band] - was == n, (month, question, band)
        totals = Counter()
        for counts in after["questions"].values():
            totals.update({k: counts[k] for k in ("good", "ok", "not_good")})
        answered = sum(totals.values())
        mean = (3 * totals["good"] + 2 * totals["ok"] + totals["not_good"]) / answered
        assert after["score"] == round(mean, 3)


def _post(urls, token, body):
    response = requests.post(
        f"{urls['checks']}/api/v1/submissions", json=body, timeout=10, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 202, response.text


def test_who_wrote_the_answers_and_what_was_shared_named(form_services, stack):
    urls, creds = stack.urls(), form_services["creds"]
    admin = _token(urls["checks"], creds, "admin")
    today = dt.date.today()
    month = today.strftime("%Y-%m")
    before = _org(urls, admin, month)["answered_by"]
    checker_of = {c["token"]: c for c in creds["checkers"]}
    rng, tag = random.Random(5), uuid.uuid4().hex[:8]
    sent = []
    for i, (token, body) in enumerate(generate(creds, 30, seed=5, today=today)):
        body.update(
            submission_id=str(uuid.uuid4()),
            visited_on=today.isoformat(),
            working=[f"food {tag} {i}"],
            not_working=[],
            texts_share=rng.choice(["named", "anonymous"]),
        )
        if i % 4:  # every fourth without the field: it means "alone"
            body["answered_by"] = rng.choice(ANSWERED_BY)
        _post(urls, token, body)
        sent.append((checker_of[token], body))
    # The independent count, straight from what was sent.
    expected = Counter(body.get("answered_by", "alone") for _checker, body in sent)
    assert set(expected) == set(ANSWERED_BY)

    def counted():
        after = _org(urls, admin, month)["answered_by"]
        return all(after[k] - before[k] == expected[k] for k in ANSWERED_BY)

    wait_for(counted, 60, "the 30 checks counted by who wrote the answers")
    for checker, body in sent:
        site = checker["site_id"]
        url = f"{urls['aggregate']}/api/v1/themes/working/food/submissions?site_id={site}&period={month}"
        answer = requests.get(url, headers=admin, timeout=10)
        rows = [r for r in answer.json()["texts"] if r["text"] == body["working"][0]]
        name = "Checker " + checker["checker_id"][1:]
        if body["texts_share"] == "named":
            assert [r["by"] for r in rows] == [name], checker
        else:  # one checker per demo site: too few to hide among, so withheld (test_anonymous_texts.py)
            assert rows == [] and answer.json()["anonymous_withheld"] >= 1, checker
        page = requests.get(f"{urls['aggregate']}/manager/sites/{site}?period={month}", headers=admin, timeout=10)
        csv_file = requests.get(url + "&format=csv", headers=admin, timeout=10)
        for text in (answer.text, page.text, csv_file.text):
            assert not any(c["checker_id"] in text for c, _body in sent)
        shy = {c["checker_id"] for c, b in sent} - {c["checker_id"] for c, b in sent if b["texts_share"] == "named"}
        assert not any("Checker " + s[1:] in answer.text + csv_file.text for s in shy)


def test_replay_under_live_workers_gives_the_same_figures(form_services, stack):
    db = MongoClient(stack.settings.mongo_uri, tz_aware=True)[stack.settings.mongo_db]
    try:

        def snapshot():
            keep = ("checks", "score", "questions", "sites_checked")
            return {d["_id"]: {k: d.get(k) for k in keep} for d in db["agg_rollups"].find()}

        before = snapshot()
        assert before, "the tests before this one made roll-ups"
        output = stack.run_cli("replay", "--from-start")
        assert "replay done" in output
        assert snapshot() == before
        assert db["agg_control"].find_one({"_id": "replay"})["pause"] is False
    finally:
        db.client.close()
    # The live workers resumed: a new check still reaches its roll-up.
    creds, urls = form_services["creds"], stack.urls()
    admin = _token(urls["checks"], creds, "admin")
    month = dt.date.today().strftime("%Y-%m")
    was = _org(urls, admin, month)["checks"]
    [(token, body)] = generate(creds, 1, seed=99, today=dt.date.today())
    body.update(visited_on=dt.date.today().isoformat(), submission_id=str(uuid.uuid4()))
    posted = requests.post(
        f"{urls['checks']}/api/v1/submissions", json=body, timeout=10, headers={"Authorization": f"Bearer {token}"}
    )
    assert posted.status_code == 202
    wait_for(lambda: _org(urls, admin, month)["checks"] == was + 1, 30, "the roll-up after the replay")


def test_regional_manager_signs_in_and_sorts_the_region(form_services, stack, browser_factory):
    from selenium.webdriver.common.by import By

    urls, creds = stack.urls(), form_services["creds"]
    password = next(m["password"] for m in creds["managers"] if m["username"] == "rm-r01")
    # A check in R01 today with a text about food, so the region page has a theme to link to.
    site = next(m["site_id"] for m in creds["managers"] if m["role"] == "site_manager" and m["region_id"] == "R01")
    checker = next(c for c in creds["checkers"] if c["site_id"] == site)
    [(_token_unused, body)] = generate(creds, 1, seed=7, today=dt.date.today())
    texts = [f"The food is good {uuid.uuid4().hex[:6]}"]
    # Shared with the name: an anonymous text of a site with one checker is withheld (test_anonymous_texts.py).
    body.update(
        site_id=site,
        submission_id=str(uuid.uuid4()),
        visited_on=dt.date.today().isoformat(),
        working=texts,
        texts_share="named",
    )
    _post(urls, checker["token"], body)
    rm = _token(urls["checks"], creds, "rm-r01")
    food_url = f"{urls['aggregate']}/api/v1/themes/working/food/submissions?region_id=R01"

    def arrived():
        return any(r["text"] == texts[0] for r in requests.get(food_url, headers=rm, timeout=10).json()["texts"])

    wait_for(arrived, 60, "the check about food in the region's themes")
    driver = browser_factory()
    driver.set_window_size(1280, 900)  # a laptop, not a phone
    driver.get(f"{urls['aggregate']}/manager")
    assert "/manager/sign-in" in driver.current_url
    driver.find_element(By.ID, "username").send_keys("rm-r01")
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda: "/manager/regions/R01" in driver.current_url, 15, "the region page")
    assert driver.find_element(By.TAG_NAME, "h1").text == "North East"  # R01's name, not its id
    violations = [v for v in run_axe(driver) if v["impact"] in ("serious", "critical")]
    assert violations == [], violations
    SCREENS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENS / "manager-region.png"))
    charts = (
        ("[data-trend]", "manager-region-trend"),
        ("[data-answer-bars]", "manager-region-answers"),
        ("[data-theme-bars]", "manager-region-themes"),
    )
    for selector, screen in charts:
        driver.execute_script("document.querySelector(arguments[0]).scrollIntoView()", selector)
        driver.save_screenshot(str(SCREENS / f"{screen}.png"))
    driver.execute_script("window.scrollTo(0, 0)")

    def scores():
        cells = driver.find_elements(By.CSS_SELECTOR, "#sites-table tbody td[data-score]")
        return [float(c.get_attribute("data-score")) for c in cells if c.get_attribute("data-score")]

    header = driver.find_element(By.XPATH, "//th[@aria-sort]//a")
    assert "Score" in header.text  # sorted by score by default
    header.click()  # toggles the direction
    wait_for(lambda: "dir=" in driver.current_url, 10, "the re-sorted page")
    ordered = scores()
    assert ordered and ordered in (sorted(ordered), sorted(ordered, reverse=True))
    assert "Coverage" in driver.page_source and "What people said" in driver.page_source

    # Every table downloads as CSV with the manager's session, and each theme links to the texts behind it.
    # By selector, not link text: the trend's link is inside a closed <details>, which Selenium reads as no text.
    downloads = driver.find_elements(By.CSS_SELECTOR, "a[download]")
    assert {link.get_attribute("textContent") for link in downloads} == {"Download this table (CSV)"}
    tables = {link.get_attribute("href").split("table=")[1].split("&")[0] for link in downloads}
    assert {"sites", "themes", "trend"} <= tables <= {"sites", "coverage", "themes", "trend"}
    session = {"qc_manager": driver.get_cookie("qc_manager")["value"]}
    sites_csv = next(link.get_attribute("href") for link in downloads if "table=sites" in link.get_attribute("href"))
    response = requests.get(sites_csv, cookies=session, timeout=10)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    shown = len(driver.find_elements(By.CSS_SELECTOR, "#sites-table tbody tr"))
    assert len(rows) == shown and shown > 0
    food = driver.find_element(By.CSS_SELECTOR, "a[href^='/manager/themes/working/food?region_id=R01']")
    food.click()
    wait_for(lambda: "/manager/themes/working/food" in driver.current_url, 10, "the theme page")
    assert driver.find_element(By.TAG_NAME, "h1").text == "What is working: Food and meals"
    assert texts[0] in driver.page_source
    violations = [v for v in run_axe(driver) if v["impact"] in ("serious", "critical")]
    assert violations == [], violations
    assert driver.find_elements(By.PARTIAL_LINK_TEXT, "Download this table (CSV)")
    # From the text to its site: the comment is there, with the name the checker chose to share.
    name = f"Checker {checker['checker_id'][1:]}"
    row = driver.find_element(By.XPATH, f"//tr[td[normalize-space()='{texts[0]}']]")
    assert row.find_element(By.CSS_SELECTOR, "td.by").text == name
    row.find_element(By.CSS_SELECTOR, "a[href^='/manager/sites/']").click()
    wait_for(lambda: f"/manager/sites/{site}" in driver.current_url, 10, "the site page")
    comment = driver.find_element(By.XPATH, f"//article[contains(., '{texts[0]}')]")
    assert comment.get_attribute("data-shared") == "named" and name in comment.text
    assert checker["checker_id"] not in driver.page_source
    assert "Do staff listen to you?" in driver.find_element(By.ID, "questions-table").get_attribute("textContent")
    driver.save_screenshot(str(SCREENS / "manager-site.png"))
    driver.execute_script("document.querySelector('[data-trend]').scrollIntoView()")
    driver.save_screenshot(str(SCREENS / "manager-site-charts.png"))
    violations = [v for v in run_axe(driver) if v["impact"] in ("serious", "critical")]
    assert violations == [], violations
