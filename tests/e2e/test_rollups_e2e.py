"""Roll-ups with the services as processes: independent recount, replay under live workers, the region page."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import pytest
import requests
from pymongo import MongoClient

from qc.demo_checks import generate, send_demo_checks
from tests.conftest import wait_for
from tests.e2e.conftest import run_axe

pytestmark = pytest.mark.e2e
BANDS = {3: "good", 2: "ok", 1: "not_good", None: "skipped"}


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
    driver = browser_factory()
    driver.set_window_size(1280, 900)  # a laptop, not a phone
    driver.get(f"{urls['aggregate']}/manager")
    assert "/manager/sign-in" in driver.current_url
    driver.find_element(By.ID, "username").send_keys("rm-r01")
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda: "/manager/regions/R01" in driver.current_url, 15, "the region page")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Region R01"
    violations = [v for v in run_axe(driver) if v["impact"] in ("serious", "critical")]
    assert violations == [], violations

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
