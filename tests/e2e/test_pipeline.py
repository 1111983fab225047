"""The whole pipeline with the services as real processes (gunicorn web apps and workers)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
import requests

from qc.settings import TOPICS
from tests.conftest import mail_messages, read_topic, validate_all, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def running(stack):
    """Demo directory for 24 sites and all three services, ready."""
    credentials = stack.var_dir / "e2e-credentials.json"
    stack.run_cli("demo-seed", "--sites", "24", "--credentials", str(credentials))
    stack.start_services()
    stack.wait_ready(timeout=90)
    creds = json.loads(credentials.read_text())
    urls = stack.urls()
    token = requests.post(
        f"{urls['checks']}/api/v1/auth/token",
        timeout=10,
        json={"username": "rm-r01", "password": _password(creds, "rm-r01")},
    ).json()["access_token"]
    return {"urls": urls, "creds": creds, "rm": {"Authorization": f"Bearer {token}"}}


def _password(creds, username):
    return next(m["password"] for m in creds["managers"] if m["username"] == username)


def _checker(creds, site_id):
    return next(c for c in creds["checkers"] if c["site_id"] == site_id)


def _submission(site_id, **changes):
    body = {
        "submission_id": str(uuid.uuid4()),
        "site_id": site_id,
        "question_set": {"id": "everyday-life", "version": 1},
        "visited_on": dt.date.today().isoformat(),
        "answers": [
            {"question_id": "feel-safe", "score": 1, "comment": ""},
            {"question_id": "listened-to", "score": 3, "comment": "they do"},
            {"question_id": "home-clean", "score": None, "comment": ""},
        ],
        "working": ["the garden"],
        "not_working": ["the night shift"],
        "urgent_concern": "Someone shouts at night and I am scared.",
    }
    body.update(changes)
    return body


def _post(running, site_id, body):
    token = _checker(running["creds"], site_id)["token"]
    return requests.post(
        f"{running['urls']['checks']}/api/v1/submissions",
        json=body,
        timeout=15,
        headers={"Authorization": f"Bearer {token}"},
    )


def test_urgent_concern_reaches_rollup_alert_and_email(running, stack):
    """The issue's "done when": a submission with an urgent concern shows roll-up, alert and e-mail."""
    urls, rm = running["urls"], running["rm"]
    month = dt.date.today().strftime("%Y-%m")
    rollup_url = f"{urls['aggregate']}/api/v1/rollups/sites/S0001?period={month}"
    # Other tests may have counted checks at this site already: wait for this one, not any.
    before = requests.get(rollup_url, headers=rm, timeout=5)
    counted_before = before.json()["checks"] if before.status_code == 200 else 0
    body = _submission("S0001")
    response = _post(running, "S0001", body)
    assert response.status_code == 202, response.text
    assert response.json() == {"submission_id": body["submission_id"], "status": "accepted"}

    def site_rollup():
        r = requests.get(rollup_url, headers=rm, timeout=5)
        return r.json() if r.status_code == 200 and r.json()["checks"] > counted_before else None

    rollup = wait_for(site_rollup, 30, "the site roll-up")
    assert rollup["questions"]["feel-safe"]["not_good"] >= 1
    assert rollup["questions"]["home-clean"]["skipped"] >= 1

    def alerts():
        r = requests.get(f"{urls['notify']}/api/v1/alerts?site_id=S0001", headers=rm, timeout=5)
        found = [a for a in r.json()["alerts"] if body["submission_id"] in a["submission_ids"]]
        return found if len(found) == 2 else None

    found = {a["rule"]: a for a in wait_for(alerts, 30, "two alerts")}
    assert found["urgent_concern"]["severity"] == "critical"
    assert found["safety_not_good"]["question_ids"] == ["feel-safe"]
    assert found["urgent_concern"]["status"] == "open"

    def emails():
        subjects = [
            (m["To"], m["Subject"])
            for m in mail_messages(stack)
            if "S0001" in str(m.get_body(("plain",))) or "0001" in m["Subject"]
        ]
        return subjects if len(subjects) >= 5 else None

    sent = wait_for(emails, 30, "e-mails to the site manager, regional manager and safeguarding lead")
    recipients = {to for to, subject in sent if subject.startswith("[Urgent]")}
    assert recipients == {"sm-s0001@demo.qc.localhost", "rm-r01@demo.qc.localhost", "safeguarding@demo.qc.localhost"}
    # The concern's words stay inside the system; the e-mail carries a link.
    assert all("scared" not in m.as_string() for m in mail_messages(stack))


def test_repeat_is_idempotent_and_a_changed_body_conflicts(running, stack):
    body = _submission("S0002", urgent_concern=None)
    first, again = _post(running, "S0002", body), _post(running, "S0002", body)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    conflict = _post(running, "S0002", {**body, "working": ["something else"]})
    assert conflict.status_code == 409
    assert conflict.headers["Content-Type"] == "application/problem+json"
    received = read_topic(
        stack.settings,
        TOPICS["received"],
        lambda evs: any(e["data"]["submission_id"] == body["submission_id"] for e in evs),
    )
    assert sum(1 for e in received if e["data"]["submission_id"] == body["submission_id"]) == 1


def test_rejected_submission_tells_the_checker_why(running):
    # Intake refuses a future visit itself (422); a question not on the form is for the validator to reject.
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    assert _post(running, "S0003", _submission("S0003", visited_on=future)).status_code == 422
    unknown = [{"question_id": "not-on-this-form", "score": 3, "comment": ""}]
    body = _submission("S0003", answers=unknown, urgent_concern=None)
    assert _post(running, "S0003", body).status_code == 202
    token = _checker(running["creds"], "S0003")["token"]

    def status():
        r = requests.get(
            f"{running['urls']['checks']}/api/v1/submissions/{body['submission_id']}",
            timeout=5,
            headers={"Authorization": f"Bearer {token}"},
        )
        return r.json() if r.json()["status"] != "accepted" else None

    result = wait_for(status, 30, "the validator's decision")
    assert result["status"] == "rejected"
    assert [r["code"] for r in result["reasons"]] == ["question_unknown"]
    assert "not on this form" in result["reasons"][0]["message"]


def test_resolving_an_alert_is_shown_to_the_checker(running):
    urls, rm = running["urls"], running["rm"]
    body = _submission("S0013", answers=[{"question_id": "respect", "score": 1, "comment": ""}], urgent_concern=None)
    assert _post(running, "S0013", body).status_code == 202

    def alert():
        r = requests.get(f"{urls['notify']}/api/v1/alerts?site_id=S0013&status=open", headers=rm, timeout=5)
        return next((a for a in r.json()["alerts"] if body["submission_id"] in a["submission_ids"]), None)

    found = wait_for(alert, 30, "the safety alert")
    ack = requests.post(f"{urls['notify']}/api/v1/alerts/{found['id']}/acknowledge", headers=rm, timeout=5)
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    missing = requests.post(f"{urls['notify']}/api/v1/alerts/{found['id']}/resolve", headers=rm, json={}, timeout=5)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "response"
    done = requests.post(
        f"{urls['notify']}/api/v1/alerts/{found['id']}/resolve",
        headers=rm,
        timeout=5,
        json={"response": "We talked with the staff team about respect."},
    )
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    token = _checker(running["creds"], "S0013")["token"]

    def responses():
        r = requests.get(
            f"{urls['checks']}/api/v1/submissions/{body['submission_id']}",
            timeout=5,
            headers={"Authorization": f"Bearer {token}"},
        )
        return [x for x in r.json()["responses"] if x["status"] == "resolved"]

    [response] = wait_for(responses, 30, "the response on the checker's submission")
    assert response["response"] == "We talked with the staff team about respect."


def test_regional_manager_cannot_read_another_region(running):
    urls, rm = running["urls"], running["rm"]
    month = dt.date.today().strftime("%Y-%m")
    assert (
        requests.get(
            f"{urls['aggregate']}/api/v1/rollups/sites/S0002?period={month}", headers=rm, timeout=5
        ).status_code
        == 403
    )  # S0002 is in R02
    assert requests.get(f"{urls['aggregate']}/api/v1/rollups/regions/R02", headers=rm, timeout=5).status_code == 403
    assert requests.get(f"{urls['notify']}/api/v1/alerts?region_id=R02", headers=rm, timeout=5).status_code == 403
    assert requests.get(f"{urls['notify']}/api/v1/alerts", timeout=5).status_code == 401


def test_services_report_health_and_metrics(running):
    """Self-contained: it makes the urgent concern it looks for, and waits for the worker to hold its partitions."""
    for name, url in running["urls"].items():
        assert requests.get(f"{url}/healthz", timeout=5).json()["status"] == "ok"
        assert requests.get(f"{url}/readyz", timeout=5).status_code == 200
        text = requests.get(f"{url}/metrics", timeout=5).text
        assert f'qc_http_requests_total{{method="GET",route="/readyz",service="{name}",status="200"}}' in text
        assert "qc_http_request_duration_seconds_bucket" in text
    body = _submission("S0014", urgent_concern="The fire door at the back is locked.")
    assert _post(running, "S0014", body).status_code == 202

    def notify_metrics():
        text = requests.get(f"{running['urls']['notify']}/metrics", timeout=5).text
        wanted = (
            'qc_events_consumed_total{group="qc-notify",outcome="processed",topic="qc.submissions.validated"}',
            "qc_consumer_lag{",
            'qc_alerts_raised_total{rule="urgent_concern",severity="critical"}',
        )
        return text if all(w in text for w in wanted) else None

    wait_for(notify_metrics, 30, "notify's consumed, lag and alert metrics")


def test_every_event_produced_matches_its_schema(running, stack):
    """Runs last in this module: everything the tests above made is on the topics."""
    for topic in (
        TOPICS["received"],
        TOPICS["validated"],
        TOPICS["rejected"],
        TOPICS["rollups"],
        TOPICS["alerts"],
        TOPICS["directory"],
    ):
        seen = read_topic(stack.settings, topic, lambda evs: len(evs) > 0)
        validate_all(seen, stack.settings.schemas_dir)


def test_the_checker_says_it_is_not_better_and_the_alert_reopens(running):
    """Issue 9: the checker confirms the fix on My checks; "no" reopens the alert; roll-ups count it."""
    import re

    urls, rm = running["urls"], running["rm"]
    body = _submission("S0013", answers=[{"question_id": "feel-safe", "score": 1, "comment": ""}], urgent_concern=None)
    assert _post(running, "S0013", body).status_code == 202

    def alert():
        r = requests.get(f"{urls['notify']}/api/v1/alerts?site_id=S0013&status=open", headers=rm, timeout=5)
        return next((a for a in r.json()["alerts"] if body["submission_id"] in a["submission_ids"]), None)

    found = wait_for(alert, 30, "the safety alert")
    done = requests.post(
        f"{urls['notify']}/api/v1/alerts/{found['id']}/resolve",
        headers=rm,
        timeout=5,
        json={"response": "We mended the front door lock."},
    )
    assert done.status_code == 200
    phone = requests.Session()
    phone.get(f"{urls['checks']}/s/{_checker(running['creds'], 'S0013')['token']}", timeout=5)

    def form():
        page = phone.get(f"{urls['checks']}/my-checks", timeout=5).text
        return page if f"/my-checks/{body['submission_id']}/alerts/" in page else None

    page = wait_for(form, 30, "the question on My checks")
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)
    action = re.search(rf'action="(/my-checks/{body["submission_id"]}/alerts/[^"]+/better)"', page).group(1)
    answered = phone.post(f"{urls['checks']}{action}", data={"csrf_token": csrf, "answer": "no"}, timeout=10)
    assert answered.status_code == 200 and "told the managers" in answered.text

    def reopened():
        r = requests.get(f"{urls['notify']}/api/v1/alerts/{found['id']}", headers=rm, timeout=5).json()
        return r if r["status"] == "open" else None

    assert wait_for(reopened, 30, "the alert reopened")["history"][-1]["status"] == "reopened"
    month = dt.date.today().strftime("%Y-%m")

    def counted():
        r = requests.get(f"{urls['aggregate']}/api/v1/rollups/sites/S0013?period={month}", headers=rm, timeout=5)
        return r.json()["fixes"]["disputed"] == 1

    wait_for(counted, 30, "the disputed fix in the roll-up")
