"""Checkers are reminded, gently, a few days before their site's check is due: through a real SMTP server,
once per checker and due day, their supporter when they have no address, and again next run if mail failed."""

from __future__ import annotations

import datetime as dt

import pytest

from qc import schedules
from qc.dates import day_words
from tests import builders
from tests.conftest import mail_messages, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def handler(db, settings, publisher):
    """Elm Court (S0001) due in two days; Ash Lodge (S0002, weekly in its region) checked today."""
    handler = builders.notify_handler(db, settings, publisher, with_scheduler=True)
    tag, today = settings.mongo_db, dt.date.today()
    knowledge = handler.knowledge
    knowledge.apply_directory({"entity": "region", "id": "R02", "name": "South", "check_interval": "week"})
    knowledge.apply_directory(
        {"entity": "site", "id": "S0002", "name": "Ash Lodge", "region_id": "R02", "active": True}
    )
    people = (
        ("C1", "Sam Smith", "S0001", {"email": f"c1-{tag}@test", "supporter_email": f"s1-{tag}@test"}),
        ("C2", "Kim Jones", "S0001", {"supporter_email": f"s2-{tag}@test"}),  # no address of their own
        ("C3", "Lee", "S0001", {}),  # nobody to write to
        ("C5", "Ray", "S0002", {"email": f"c5-{tag}@test"}),  # checked today: not due
    )
    for pid, name, site, addresses in people:
        person = {"entity": "person", "id": pid, "name": name, "role": "checker", "site_id": site, "active": True}
        knowledge.apply_directory({**person, **addresses})
    knowledge.apply_directory(
        {"entity": "person", "id": "C4", "name": "Gone", "role": "checker", "site_id": "S0001", "active": False}
        | {"email": f"c4-{tag}@test"}
    )
    last = today - dt.timedelta(days=1)
    while schedules.after(last, "month") > today + dt.timedelta(days=2):  # due in exactly two days
        last -= dt.timedelta(days=1)
    knowledge.sites.update_one({"_id": "S0001"}, {"$set": {"last_visited_on": last.isoformat()}})
    knowledge.sites.update_one({"_id": "S0002"}, {"$set": {"last_visited_on": today.isoformat()}})
    return handler


def _to(stack, address: str) -> list:
    return [m for m in mail_messages(stack) if address in m["To"]]


def test_each_active_checker_or_their_supporter_is_reminded_once(handler, stack, settings, db):
    tag, due = settings.mongo_db, dt.date.today() + dt.timedelta(days=2)
    assert handler.scheduler.remind_checkers(handler) == 2
    assert handler.scheduler.remind_checkers(handler) == 0, "once per checker and due day"
    [mine] = wait_for(lambda: _to(stack, f"c1-{tag}@test"), 10, "the checker's reminder")
    [supporter] = wait_for(lambda: _to(stack, f"s2-{tag}@test"), 10, "the supporter's reminder")
    assert mine["Subject"] == f"Your next quality check is due on {day_words(due)}"
    text = mine.get_body(preferencelist=("plain",)).get_content()
    assert text.startswith("Hello Sam,") and "It is due on" in text and "you can do it when you are ready" in text
    assert supporter["Subject"] == f"A quality check at Elm Court is due on {day_words(due)}"
    assert "You support a quality checker at Elm Court" in supporter.get_body(preferencelist=("plain",)).get_content()
    # Not the first checker's supporter (they have their own address), not a stopped checker, not a site not due.
    for nobody in (f"s1-{tag}@test", f"c4-{tag}@test", f"c5-{tag}@test"):
        assert _to(stack, nobody) == []
    assert db["notify_reminders"].count_documents({}) == 2


def test_a_reminder_the_mail_server_refused_is_sent_on_the_next_run(handler, stack, settings, db, publisher):
    down = builders.notify_handler(
        db, settings, publisher, smtp_url="smtp://127.0.0.1:1", with_scheduler=True
    )  # nothing listens
    assert down.scheduler.remind_checkers(down) == 0
    assert db["notify_reminders"].count_documents({}) == 0, "a claim is taken back when the e-mail did not go"
    assert handler.scheduler.remind_checkers(handler) == 2
    wait_for(lambda: _to(stack, f"c1-{settings.mongo_db}@test"), 10, "the reminder, sent at last")
