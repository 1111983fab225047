"""Consent in alerts, over the real database, broker, SMTP sink and HTTP: a name only where the checker agreed."""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
import uuid

import pytest

from qc import auth, events, web
from services.notify.bootstrap import create_app
from services.notify.delivery.webhooks import Hook
from tests import builders
from tests.conftest import mail_messages, wait_for

pytestmark = pytest.mark.integration
CHECKER_ID, CHECKER_NAME = "C-7731", "Samira Quinn"


def _answers(share_safe="anonymous", share_respect="anonymous"):
    def answer(qid, score, safety, share):
        out = {"question_id": qid, "score": score, "comment": f"about {qid}", "safety": safety}
        if share is not None:
            out["share"] = share
        return out

    return [
        answer("listened-to", 3, False, "named"),
        answer("feel-safe", 1, True, share_safe),
        answer("respect", 1, True, share_respect),
    ]


def _checker_event(**changes):
    return builders.validated(checker_id=CHECKER_ID, answers=_answers(), **changes)


class _Hooked(http.server.BaseHTTPRequestHandler):
    bodies: list = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        type(self).bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook_server():
    _Hooked.bodies = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hooked)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _world(db, settings, publisher, hook_server):
    hook = Hook("case-system", f"http://127.0.0.1:{hook_server.server_port}/hook", "s3cret", (), ())
    handler = builders.notify_handler(db, settings, publisher, hooks=[hook])
    handler.knowledge.apply_directory(
        {
            "entity": "site",
            "id": "S0001",
            "name": "Elm Court",
            "region_id": "R01",
            "active": True,
            "tell_supporters": True,
        }
    )
    handler.knowledge.apply_directory(
        {
            "entity": "person",
            "id": CHECKER_ID,
            "name": CHECKER_NAME,
            "role": "checker",
            "site_id": "S0001",
            "active": True,
            "supporter_email": f"supporter-{settings.mongo_db}@test",
        }
    )
    return handler


def _bearer(settings, **principal):
    token = auth.issue_manager_token(settings.secret_key, auth.Principal(**principal))
    return {"Authorization": f"Bearer {token}"}


def _mine(stack, settings):
    return [m for m in mail_messages(stack) if settings.mongo_db in m["To"]]


def _everything_shown(app, settings, stack, alert_ids) -> dict[str, str]:
    """Every place an alert is shown outside the store, as text."""
    client = app.test_client()
    rm = _bearer(settings, username="rm1", role="regional_manager", region_id="R01")
    shown = {"api list": client.get("/api/v1/alerts", headers=rm).get_data(as_text=True)}
    for alert_id in alert_ids:
        shown[f"api {alert_id}"] = client.get(f"/api/v1/alerts/{alert_id}", headers=rm).get_data(as_text=True)
        log = client.get(f"/api/v1/alerts/{alert_id}/deliveries", headers=rm)
        shown[f"deliveries {alert_id}"] = log.get_data(as_text=True)
    client.set_cookie(web.MANAGER_COOKIE, rm["Authorization"].split()[1])
    shown["inbox"] = client.get("/manager/alerts").get_data(as_text=True)
    for alert_id in alert_ids:
        shown[f"page {alert_id}"] = client.get(f"/manager/alerts/{alert_id}").get_data(as_text=True)
    for i, mail in enumerate(_mine(stack, settings)):
        shown[f"mail {i} {mail['Subject']}"] = (
            mail.get_body(("plain",)).get_content() + mail.get_body(("html",)).get_content()
        )
    for i, body in enumerate(_Hooked.bodies):
        shown[f"webhook {i}"] = body.decode()
    return shown


def test_anonymous_answers_and_worry_show_no_name_and_no_checker_id_anywhere(
    db, publisher, stack, settings, hook_server
):
    handler = _world(db, settings, publisher, hook_server)
    handler.handle(builders.deliveries(_checker_event(urgent_concern="The night staff frighten me")))
    # No share fields at all (an event from before consent existed): anonymous.
    handler.handle(builders.deliveries(builders.validated(checker_id=CHECKER_ID, answered_by="with_supporter")))
    alerts = {a["rule"]: a for a in handler.store.alerts.find()}
    assert set(alerts) == {"urgent_concern", "safety_not_good"}
    # The store keeps who it was (for "you said, we did" and "is it better now?").
    assert {v["checker_id"] for a in alerts.values() for v in a["voices"]} == {CHECKER_ID}
    # Safeguarding: the anonymous worry still reaches the safeguarding lead, at once.
    mails = db["deliveries"].find({"alert_id": alerts["urgent_concern"]["_id"], "channel": "email"})
    told = {d["person_id"]: d["status"] for d in mails}
    assert told == {"SM1": "sent", "RM1": "sent", "SG1": "sent"}
    wait_for(lambda: len(_mine(stack, settings)) >= 5, 10, "the alert e-mails")
    wait_for(lambda: len(_Hooked.bodies) >= 2, 10, "the webhooks")

    app = create_app(dataclasses.asdict(settings))
    try:
        client = app.test_client()
        rm = _bearer(settings, username="rm1", role="regional_manager", region_id="R01")
        for rule in ("safety_not_good", "urgent_concern"):
            done = client.post(
                f"/api/v1/alerts/{alerts[rule]['_id']}/resolve", headers=rm, json={"response": "New locks."}
            )
            assert done.status_code == 200
        handler.tick()
        # The site tells supporters, but this checker shared nothing with their name, and one alert is a
        # worry: a note would tell the supporter (who may be who it is about) that this checker spoke up.
        assert db["deliveries"].find_one({"purpose": "response"}) is None
        shown = _everything_shown(app, settings, stack, [a["_id"] for a in alerts.values()])
    finally:
        app.extensions["qc.close"]()

    assert any(k.startswith("mail") for k in shown) and any(k.startswith("webhook") for k in shown)
    for where, text in shown.items():
        assert CHECKER_ID not in text, f"the checker id is in the {where}"
        assert "Samira" not in text and "Quinn" not in text, f"the checker's name is in the {where}"
    worry = json.loads(shown[f"api {alerts['urgent_concern']['_id']}"])
    assert worry["voices"] == [
        {
            "question_id": None,
            "from": "Anonymous",
            "named": False,
            "answered_by": "alone",
            "answered_by_words": "",
            "comment": "",
        }
    ]
    assert worry["details"]["urgent_concern"] == "The night staff frighten me"  # the manager still reads it
    safety = json.loads(shown[f"api {alerts['safety_not_good']['_id']}"])
    assert {(v["question_id"], v["from"], v["answered_by"]) for v in safety["voices"]} == {
        ("feel-safe", "Anonymous", "alone"),
        ("respect", "Anonymous", "alone"),
        ("feel-safe", "Anonymous", "with_supporter"),
    }
    page = shown[f"page {alerts['safety_not_good']['_id']}"]
    assert "Answered with a supporter" in page and "Do you feel safe where you live?" in page
    hooked = [json.loads(b) for b in _Hooked.bodies]
    assert all(v["from"] == "Anonymous" for h in hooked for v in h["data"]["voices"])


def test_named_answers_show_the_name_everywhere_but_never_the_checker_id(db, publisher, stack, settings, hook_server):
    handler = _world(db, settings, publisher, hook_server)
    event = builders.validated(
        checker_id=CHECKER_ID,
        answers=_answers(share_safe="named", share_respect="named"),
        answered_by="supporter_wrote",
        urgent_concern="I am worried about money going missing",
        urgent_concern_share="named",
    )
    handler.handle(builders.deliveries(event))
    handler.handle(builders.deliveries(event))  # redelivered: nothing twice
    alerts = {a["rule"]: a for a in handler.store.alerts.find()}
    assert len(alerts["safety_not_good"]["voices"]) == 2
    wait_for(lambda: len(_mine(stack, settings)) >= 5, 10, "the alert e-mails")
    wait_for(lambda: len(_Hooked.bodies) >= 2, 10, "the webhooks")
    app = create_app(dataclasses.asdict(settings))
    try:
        rm = _bearer(settings, username="rm1", role="regional_manager", region_id="R01")
        for rule, response in (("safety_not_good", "New locks."), ("urgent_concern", "We spoke to the police.")):
            done = app.test_client().post(
                f"/api/v1/alerts/{alerts[rule]['_id']}/resolve", headers=rm, json={"response": response}
            )
            assert done.status_code == 200
        handler.tick()
        note = wait_for(lambda: db["deliveries"].find_one({"purpose": "response", "status": "sent"}), 10, "the note")
        shown = _everything_shown(app, settings, stack, [a["_id"] for a in alerts.values()])
    finally:
        app.extensions["qc.close"]()
    # Named answers: the supporter hears what was done about them; about the worry, never (even named).
    assert note["alert_id"] == alerts["safety_not_good"]["_id"]
    assert [d["alert_id"] for d in db["deliveries"].find({"purpose": "response"})] == [note["alert_id"]]
    supporter_mail = [m for m in _mine(stack, settings) if m["To"].startswith("supporter-")]
    assert len(supporter_mail) == 1 and "police" not in supporter_mail[0].get_body(("plain",)).get_content()
    page = shown[f"page {alerts['safety_not_good']['_id']}"]
    assert "the checker&#39;s supporter" in page or "the checker's supporter" in page
    for where, text in shown.items():
        assert CHECKER_ID not in text, f"the checker id is in the {where}"
    safety = json.loads(shown[f"api {alerts['safety_not_good']['_id']}"])
    assert {(v["question_id"], v["from"], v["answered_by_words"]) for v in safety["voices"]} == {
        ("feel-safe", CHECKER_NAME, "a supporter wrote it"),
        ("respect", CHECKER_NAME, "a supporter wrote it"),
    }
    worry = json.loads(shown[f"api {alerts['urgent_concern']['_id']}"])
    assert [v["from"] for v in worry["voices"]] == [CHECKER_NAME]
    assert CHECKER_NAME in shown[f"page {alerts['urgent_concern']['_id']}"]
    assert "A supporter wrote it" in shown[f"page {alerts['safety_not_good']['_id']}"]
    mails = [text for where, text in shown.items() if where.startswith("mail") and "safety question" in where]
    assert mails and all(CHECKER_NAME in m and "A supporter wrote it".lower() in m.lower() for m in mails)
    safety_hooks = [json.loads(b)["data"] for b in _Hooked.bodies if b"safety_not_good" in b]
    assert {v["from"] for v in safety_hooks[0]["voices"]} == {CHECKER_NAME}
    assert "comment" not in safety_hooks[0]["voices"][0]  # no free text leaves in a webhook
    for body in _Hooked.bodies:
        events.validate(json.loads(body), schemas_dir=settings.schemas_dir)  # still an org.qc.alert.raised event


def test_the_repeated_rejections_alert_still_names_the_checker(db, publisher, settings, hook_server):
    handler = _world(db, settings, publisher, hook_server)
    for _ in range(3):
        data = {
            "submission_id": str(uuid.uuid4()),
            "checker_id": CHECKER_ID,
            "site_id": "S0001",
            "region_id": "R01",
            "received_at": "2026-11-25T10:00:00.000Z",
            "rejected_at": events.isoformat(events.now()),
            "reasons": [{"code": "visit_in_future", "field": "visited_on", "message": "x"}],
        }
        handler.handle(
            builders.deliveries(events.make_event("org.qc.submission.rejected", source="t", subject="s", data=data))
        )
    app = create_app(dataclasses.asdict(settings))
    try:
        sm = _bearer(settings, username="sm1", role="site_manager", region_id="R01", site_id="S0001")
        [alert] = app.test_client().get("/api/v1/alerts", headers=sm).json["alerts"]
    finally:
        app.extensions["qc.close"]()
    assert alert["rule"] == "repeated_rejections"
    assert (alert["checker_id"], alert["checker_name"]) == (CHECKER_ID, CHECKER_NAME)


def test_a_name_that_would_give_away_an_anonymous_answer_from_the_same_check_is_not_shown(
    db, publisher, stack, settings, hook_server
):
    handler = _world(db, settings, publisher, hook_server)
    # Named "feel safe", but not "respect" (same alert) nor the worry (its own alert, same submission id).
    event = builders.validated(
        checker_id=CHECKER_ID, answers=_answers(share_safe="named"), urgent_concern="Money goes missing"
    )
    handler.handle(builders.deliveries(event))
    stored = handler.store.alerts.find_one({"rule": "safety_not_good"})
    assert {(v["question_id"], v["share"], v["named"]) for v in stored["voices"]} == {
        ("feel-safe", "named", False),
        ("respect", "anonymous", False),
    }
    wait_for(lambda: len(_mine(stack, settings)) >= 5, 10, "the alert e-mails")
    wait_for(lambda: len(_Hooked.bodies) >= 2, 10, "the webhooks")
    app = create_app(dataclasses.asdict(settings))
    try:
        shown = _everything_shown(app, settings, stack, [a["_id"] for a in handler.store.alerts.find()])
    finally:
        app.extensions["qc.close"]()
    for where, text in shown.items():
        assert CHECKER_ID not in text and "Samira" not in text, f"the checker is named in the {where}"
