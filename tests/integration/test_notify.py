"""notify's worker logic over the real database, SMTP sink and HTTP: alerts, routing, digest, silences, webhooks."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import random
import socket
import threading
import uuid

import pytest

from qc import events, schedules
from services.notify.delivery.mailer import Mailer
from services.notify.delivery.webhooks import Hook, sign
from services.notify.jobs.sending import Sender
from services.notify.stores.knowledge import Knowledge
from tests import builders
from tests.conftest import wait_for

pytestmark = pytest.mark.integration


def _site_rollup(**figures) -> dict:
    """A site roll-up event's data for S0001 in R01, with the period and figures given."""
    return {
        "scope": "site",
        "site_id": "S0001",
        "region_id": "R01",
        "questions": {},
        "updated_at": "2026-11-25T10:00:00Z",
        "latest_received_at": None,
        **figures,
    }


def test_same_submission_twice_raises_one_alert_and_one_email_each(db, publisher, stack, settings):
    handler = builders.notify_handler(db, settings, publisher)
    event = builders.validated()
    handler.handle(builders.deliveries(event))
    handler.handle(builders.deliveries(event))
    handler.handle(builders.deliveries(builders.validated()))  # same site and month: joins the alert
    [alert] = list(handler.store.alerts.find())
    assert alert["rule"] == "safety_not_good" and len(alert["submission_ids"]) == 2
    assert db["deliveries"].count_documents({"status": "sent"}) == 2  # site and regional manager
    assert (
        len(
            wait_for(
                lambda: len(builders.my_mail(stack, settings)) == 2 and builders.my_mail(stack, settings),
                10,
                "two e-mails",
            )
        )
        == 2
    )


def test_a_sending_round_reads_its_alerts_together_and_names_their_site(db, publisher, stack, settings):
    """Five e-mails of two alerts: one look-up of both alerts for the round, each e-mail still its own alert's."""
    handler = builders.notify_handler(db, settings, publisher)
    asked = []
    read = handler.store.get_many
    handler.store.get_many = lambda ids: asked.append(set(ids)) or read(ids)
    handler.handle(builders.deliveries(builders.validated(urgent_concern="The night staff shout at me")))
    alerts = {a["rule"]: a["_id"] for a in handler.store.alerts.find()}
    assert sorted(alerts) == ["safety_not_good", "urgent_concern"]
    assert asked == [set(alerts.values())]
    assert db["deliveries"].count_documents({"status": "sent"}) == 5  # SM1, RM1; SM1, RM1, SG1
    mails = wait_for(lambda: len(builders.my_mail(stack, settings)) == 5 and builders.my_mail(stack, settings), 10)
    assert all(m["Subject"].endswith("(Elm Court)") for m in mails), [m["Subject"] for m in mails]
    worry = [m for m in mails if "sg1-" in m["To"]]
    assert len(worry) == 1 and alerts["urgent_concern"] in worry[0].get_body(("plain",)).get_content()


def test_a_flood_of_100_identical_events_makes_one_alert(db, publisher, settings):
    handler = builders.notify_handler(db, settings, publisher)
    event = builders.validated(urgent_concern="I am frightened")
    for _batch in range(4):
        handler.handle(builders.deliveries(*[event] * 25))
    alerts = list(handler.store.alerts.find())
    assert sorted(a["rule"] for a in alerts) == ["safety_not_good", "urgent_concern"]
    assert db["deliveries"].count_documents({}) == 5  # SM1, RM1 (safety); SM1, RM1, SG1 (urgent)


def test_checks_of_one_site_and_month_join_one_open_alert_within_a_batch_and_after_it(db, publisher, settings):
    """The open alerts are read ahead once per batch; those opened in the batch are joined too."""
    handler = builders.notify_handler(db, settings, publisher)
    handler.handle(builders.deliveries(builders.validated(), builders.validated(), builders.validated()))
    [alert] = list(handler.store.alerts.find())
    assert len(alert["submission_ids"]) == 3
    handler.handle(builders.deliveries(builders.validated()))
    assert len(handler.store.get(alert["_id"])["submission_ids"]) == 4
    handler.store.transition(alert["_id"], ("open", "acknowledged"), "resolved", "SM1", {})
    handler.handle(
        builders.deliveries(builders.validated(), builders.validated())
    )  # resolved: a new alert, joined by the second
    fresh = [a for a in handler.store.alerts.find() if a["_id"] != alert["_id"]]
    assert [(a["status"], len(a["submission_ids"])) for a in fresh] == [("open", 2)]
    assert db["deliveries"].count_documents({}) == 4  # site and regional manager, for each of the two


def test_a_directory_change_inside_a_batch_reaches_the_alerts_after_it(db, publisher, settings):
    # Recipients are read once per batch; a person added in the same batch must still be told.
    handler = builders.notify_handler(db, settings, publisher)
    new_manager = {
        "entity": "person",
        "id": "SM2",
        "name": "SM2",
        "role": "site_manager",
        "site_id": "S0001",
        "region_id": "R01",
        "active": True,
        "email": f"sm2-{settings.mongo_db}@test",
        "username": "sm2",
    }
    directory = events.make_event("org.qc.directory.changed", source="t", subject="SM2", data=new_manager)
    handler.handle(
        builders.deliveries(
            builders.validated(visited_on="2026-11-12"),
            directory,
            builders.validated(visited_on="2026-11-03", urgent_concern="I am scared at night"),
        )
    )
    told = {
        a["rule"]: {d["person_id"] for d in db["deliveries"].find({"alert_id": a["_id"]})}
        for a in handler.store.alerts.find()
    }
    assert told == {"safety_not_good": {"SM1", "RM1"}, "urgent_concern": {"SM1", "SM2", "RM1", "SG1"}}
    # Marked routed together at the batch's end, so the sweep on tick leaves them alone.
    assert [a["routed"] for a in handler.store.alerts.find()] == [True, True]
    assert handler.store.unrouted() == []
    # The batch's visits are written once at its end: the latest one counts.
    assert handler.knowledge.site("S0001")["last_visited_on"] == "2026-11-12"


def test_a_roll_up_of_a_period_kind_no_rule_reads_is_skipped(db, publisher, settings):
    handler = builders.notify_handler(db, settings, publisher)
    week = _site_rollup(period="2026-W47", period_kind="week", checks=3, score=1.0, share_good=0.0)
    month = {**week, "period": "2026-11", "period_kind": "month"}
    handler.handle(
        builders.deliveries(
            *(events.make_event("org.qc.rollup.updated", source="t", subject="r", data=r) for r in (week, month))
        )
    )
    assert [a["period"] for a in handler.store.alerts.find()] == ["2026-11"]  # the low score rule reads months
    assert [s["_id"] for s in db["notify_scores"].find()] == ["S0001:2026-11"]


@pytest.mark.parametrize("together", [True, False], ids=["one batch", "two batches"])
def test_a_score_drop_is_seen_whether_the_months_come_in_one_batch_or_two(db, publisher, settings, together):
    """Scores are read ahead and written at a batch's end; the previous month is found either way."""
    handler = builders.notify_handler(db, settings, publisher)
    october = _site_rollup(period="2026-10", period_kind="month", checks=4, score=2.9, share_good=0.9)
    november = {**october, "period": "2026-11", "score": 2.2, "share_good": 0.5}
    made = [events.make_event("org.qc.rollup.updated", source="t", subject="r", data=r) for r in (october, november)]
    for batch in [made] if together else [made[:1], made[1:]]:
        handler.handle(builders.deliveries(*batch))
    drops = [a for a in handler.store.alerts.find() if a["rule"] == "score_drop"]
    assert [(a["period"], a["details"]["previous_score"]) for a in drops] == [("2026-11", 2.9)]
    assert {s["_id"]: s["score"] for s in db["notify_scores"].find()} == {"S0001:2026-10": 2.9, "S0001:2026-11": 2.2}


def test_a_manager_deactivated_by_another_member_is_not_told_from_a_held_copy(db, publisher, settings):
    """Recipients are held in memory; a change applied by another member of the group reaches the next batch."""
    handler = builders.notify_handler(db, settings, publisher)
    alert = {"site_id": "S0001", "region_id": "R01"}
    with handler.knowledge.batch():
        assert [p["_id"] for p in handler.knowledge.people(["site_manager", "regional_manager"], alert)] == [
            "RM1",
            "SM1",
        ]
    other_member = Knowledge(db)
    with other_member.batch():
        other_member.apply_directory({"entity": "person", "id": "SM1", "role": "site_manager", "active": False})
    with handler.knowledge.batch():
        assert [p["_id"] for p in handler.knowledge.people(["site_manager", "regional_manager"], alert)] == ["RM1"]


def test_recipients_are_exactly_the_active_people_in_the_roles_asked_for_at_the_alerts_site_and_region(
    db, publisher, settings
):
    """Who hears of an alert (a worry among them): looked up by role and place, never anyone else. Checked
    against a plain filter over a directory of managers in many places, some inactive or without an address."""
    handler = builders.notify_handler(db, settings, publisher)
    rng = random.Random(4)
    for i in range(120):
        role = rng.choice(["site_manager", "regional_manager", "safeguarding_lead", "org_admin", "checker"])
        site = f"S{rng.randint(1, 6):04d}"
        person = {"entity": "person", "id": f"P{i:03d}", "name": f"P{i}", "role": role, "username": f"p{i}"}
        person.update(active=rng.random() > 0.2, email=f"p{i}@test" if rng.random() > 0.2 else None)
        person.update(site_id=site if role in ("site_manager", "checker") else None)
        person.update(region_id=f"R0{rng.randint(1, 3)}" if role != "safeguarding_lead" else None)
        handler.knowledge.apply_directory(person)
    contacts = [c for c in db["contacts"].find() if c.get("active") and c.get("email")]
    for site, region in (("S0001", "R01"), ("S0004", "R02"), ("S0006", "R03"), ("S0002", "R03")):
        for roles in (
            ["site_manager"],
            ["regional_manager", "safeguarding_lead"],
            ["site_manager", "regional_manager"],
        ):
            alert = {"site_id": site, "region_id": region}
            expected = sorted(
                c["_id"]
                for c in contacts
                if (c["role"] == "site_manager" and "site_manager" in roles and c.get("site_id") == site)
                or (c["role"] == "regional_manager" and "regional_manager" in roles and c.get("region_id") == region)
                or (c["role"] == "safeguarding_lead" and "safeguarding_lead" in roles)
            )
            with handler.knowledge.batch():
                assert [p["_id"] for p in handler.knowledge.people(roles, alert)] == expected, (site, roles)
            assert expected or roles == ["site_manager"]  # the directory is big enough for most to match someone


def test_delivery_failure_is_recorded_and_retried(db, publisher, settings):
    handler = builders.notify_handler(
        db, settings, publisher, smtp_url="smtp://127.0.0.1:1"
    )  # nothing listens on port 1
    handler.handle(builders.deliveries(builders.validated()))
    failed = list(db["deliveries"].find())
    assert {d["status"] for d in failed} == {"failed"} and all(d["attempts"] == 1 and d["last_error"] for d in failed)
    db["deliveries"].update_many({}, {"$set": {"next_attempt_at": failed[0]["created_at"]}})
    handler.deliveries.mailer = Mailer(settings.smtp_url, settings.mail_from, 5)
    handler.tick()
    assert {d["status"] for d in db["deliveries"].find()} == {"sent"}


def test_a_hanging_smtp_server_does_not_hold_up_alerts(db, publisher, settings):
    """The worker sends from its own thread: the batch is handled, and its alert announced, while SMTP hangs."""
    silent = socket.create_server(("127.0.0.1", 0))  # accepts connections and never says a word
    connected, held = threading.Event(), []
    threading.Thread(target=lambda: (held.append(silent.accept()[0]), connected.set()), daemon=True).start()
    handler = builders.notify_handler(db, settings, publisher, smtp_url=f"smtp://127.0.0.1:{silent.getsockname()[1]}")
    handler.deliveries.mailer.timeout = 60
    handler.sender = Sender(handler.send_due).start()
    try:
        handler.handle(builders.deliveries(builders.validated()))
        publisher.flush()  # what the loop does next: alert.raised is out
        handler.committed()
        assert {d["status"] for d in db["deliveries"].find()} == {"pending"}  # not tried on the loop's thread
        assert list(handler.store.alerts.find())[0]["status"] == "open"
        wait_for(connected.is_set, 10, "the sending thread to try the SMTP server")
    finally:
        for connection in held:
            connection.close()
        silent.close()
        handler.sender.stop()


def test_an_unacknowledged_high_alert_is_escalated_once(db, publisher, stack, settings):
    handler = builders.notify_handler(db, settings, publisher, with_scheduler=True)
    clock = [events.now()]
    handler.scheduler.clock = lambda: clock[0]
    handler.handle(builders.deliveries(builders.validated()))
    assert handler.scheduler.escalate(handler) == 0  # not yet due
    clock[0] += dt.timedelta(minutes=239)
    assert handler.scheduler.escalate(handler) == 0  # the rule says 240 minutes
    clock[0] += dt.timedelta(minutes=2)
    assert handler.scheduler.escalate(handler) == 1
    assert handler.scheduler.escalate(handler) == 0
    handler.tick()
    escalations = list(db["deliveries"].find({"purpose": "escalation"}))
    assert [d["person_id"] for d in escalations] == ["RM1"] and escalations[0]["status"] == "sent"
    subjects = wait_for(
        lambda: [m["Subject"] for m in builders.my_mail(stack, settings) if "Not acknowledged" in m["Subject"]],
        10,
        "the escalation e-mail",
    )
    assert len(subjects) == 1


def test_low_score_waits_for_the_daily_digest(db, publisher, stack, settings):
    handler = builders.notify_handler(db, settings, publisher, with_scheduler=True)
    rollup = {
        "scope": "site",
        "site_id": "S0001",
        "region_id": "R01",
        "period": "2026-11",
        "period_kind": "month",
        "checks": 3,
        "score": 1.4,
        "share_good": 0.1,
        "questions": {},
        "updated_at": "2026-11-25T10:00:00Z",
        "latest_received_at": None,
    }
    handler.handle(
        builders.deliveries(events.make_event("org.qc.rollup.updated", source="t", subject="r", data=rollup))
    )
    [alert] = list(handler.store.alerts.find())
    assert alert["rule"] == "low_score" and not alert["immediate"]
    assert {d["status"] for d in db["deliveries"].find()} == {"digest"}
    import zoneinfo

    tz = zoneinfo.ZoneInfo(settings.timezone)
    clock = [dt.datetime(2026, 11, 26, settings.digest_hour - 1, 59, tzinfo=tz)]
    handler.scheduler.clock = lambda: clock[0]
    assert handler.scheduler.digest(handler) == 0  # before the digest hour: nothing yet
    assert {d["status"] for d in db["deliveries"].find()} == {"digest"}
    clock[0] += dt.timedelta(minutes=1)
    assert handler.scheduler.digest(handler) == 2  # one e-mail each for SM1 and RM1
    assert handler.scheduler.digest(handler) == 0  # once a day
    assert {d["status"] for d in db["deliveries"].find()} == {"sent"}
    digests = wait_for(lambda: [m for m in builders.my_mail(stack, settings) if "daily" in m["Subject"]], 10, "digests")
    assert "score for 2026-11 is 1.40" in digests[0].get_body(("plain",)).get_content()


def test_a_silence_holds_back_e_mail_but_never_an_urgent_concern(db, publisher, settings):
    handler = builders.notify_handler(db, settings, publisher)
    now = events.now()
    # A regional manager's silence (covers_safety): it may hold back the safety alert, never the worry.
    handler.silences.create("rm1", {"site_id": "S0001"}, now + dt.timedelta(days=1), "Building works", now, True)
    handler.handle(builders.deliveries(builders.validated(urgent_concern="I am scared at night")))
    statuses = {
        a["rule"]: {d["status"] for d in db["deliveries"].find({"alert_id": a["_id"]})}
        for a in handler.store.alerts.find()
    }
    assert statuses == {"safety_not_good": {"silenced"}, "urgent_concern": {"sent"}}
    with pytest.raises(ValueError, match="never be silenced"):
        handler.silences.create("rm1", {"rule": "urgent_concern"}, now + dt.timedelta(days=1), "x", now)


def test_silence_owner_is_reminded_before_it_ends(db, publisher, stack, settings):
    handler = builders.notify_handler(db, settings, publisher, with_scheduler=True)
    now = events.now()
    handler.silences.create("rm1", {"site_id": "S0001"}, now + dt.timedelta(hours=2), "Building works", now)
    assert handler.scheduler.remind_silences(handler) == 1
    assert handler.scheduler.remind_silences(handler) == 0
    wait_for(lambda: [m for m in builders.my_mail(stack, settings) if "ends soon" in m["Subject"]], 10, "the reminder")


def test_repeated_rejections_ask_someone_to_help_the_checker(db, publisher, settings):
    handler = builders.notify_handler(db, settings, publisher)
    for _ in range(3):
        data = {
            "submission_id": str(uuid.uuid4()),
            "checker_id": "C1",
            "site_id": "S0001",
            "region_id": "R01",
            "received_at": "2026-11-25T10:00:00.000Z",
            "rejected_at": events.isoformat(events.now()),
            "reasons": [{"code": "visit_in_future", "field": "visited_on", "message": "x"}],
        }
        handler.handle(
            builders.deliveries(events.make_event("org.qc.submission.rejected", source="t", subject="s", data=data))
        )
    [alert] = list(handler.store.alerts.find())
    assert alert["rule"] == "repeated_rejections" and alert["checker_id"] == "C1"


def test_overdue_sites_are_found_on_schedule(db, publisher, settings):
    handler = builders.notify_handler(db, settings, publisher, with_scheduler=True)
    long_ago = (dt.date.today() - dt.timedelta(days=60)).isoformat()
    db["notify_sites"].update_one({"_id": "S0001"}, {"$set": {"first_seen_on": long_ago}})
    assert handler.scheduler.overdue(handler) == 1
    handler.scheduler.overdue(handler)
    [alert] = list(handler.store.alerts.find())
    late = (dt.date.today() - schedules.after(dt.date.fromisoformat(long_ago), "month")).days  # 28 to 31 days
    assert alert["rule"] == "overdue" and alert["summary"].startswith(f"No quality check {late} days after it was due")
    assert alert["summary"].endswith("(it should be checked every month; it has never been checked).")
    handler.handle(builders.deliveries(builders.validated(visited_on=dt.date.today().isoformat(), scores=(3, 3, 3))))
    assert handler.scheduler.overdue(handler) == 0  # checked today


class _Receiver(http.server.BaseHTTPRequestHandler):
    calls: list = []
    failures = 2

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).calls.append((dict(self.headers), body))
        status = 500 if len(type(self).calls) <= type(self).failures else 204
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhooks_are_signed_and_retried_until_delivered(db, publisher, settings):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        hook = Hook("case-system", f"http://127.0.0.1:{server.server_port}/hook", "s3cret", ("high", "critical"), ())
        handler = builders.notify_handler(db, settings, publisher, hooks=[hook])
        handler.handle(builders.deliveries(builders.validated()))
        [delivery] = list(db["deliveries"].find({"channel": "webhook"}))
        assert delivery["status"] == "failed" and delivery["last_error"] == "HTTP 500"
        handler.tick()  # not yet: the back-off has not passed
        assert len(_Receiver.calls) == 1
        for attempts, status in ((2, "failed"), (3, "sent")):  # fails twice, then succeeds
            db["deliveries"].update_one({"_id": delivery["_id"]}, {"$set": {"next_attempt_at": delivery["created_at"]}})
            handler.tick()
            stored = db["deliveries"].find_one({"_id": delivery["_id"]})
            assert (stored["attempts"], stored["status"]) == (attempts, status)
        handler.tick()
        assert len(_Receiver.calls) == 3  # exactly one accepted delivery, nothing sent after it
        headers, body = _Receiver.calls[-1]
        assert headers["X-QC-Signature"] == sign("s3cret", headers["X-QC-Timestamp"], body)
        assert json.loads(body)["type"] == "org.qc.alert.raised"
    finally:
        server.shutdown()
        server.server_close()
