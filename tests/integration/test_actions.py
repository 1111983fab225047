"""Actions over the real database and HTTP: made from what people said, followed to done, on the home page,
the board and in a CSV; only for sites the manager may see; never a checker's words or name."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re

import pytest

from qc import events
from services.notify.bootstrap import create_app
from services.notify.stores.knowledge import Knowledge
from tests import builders
from tests.conftest import csrf_of, manager_client, wait_for

pytestmark = pytest.mark.integration
RM1 = {"username": "rm1", "role": "regional_manager", "region_id": "R01"}
RM2 = {"username": "rm2", "role": "regional_manager", "region_id": "R02"}


@pytest.fixture
def app(settings, db):
    knowledge = Knowledge(db)
    for site, name, region in (("S0001", "Elm Court", "R01"), ("S0002", "Far Away", "R02")):
        knowledge.apply_directory({"entity": "site", "id": site, "name": name, "region_id": region, "active": True})
    application = create_app(dataclasses.asdict(settings))
    yield application
    application.extensions["qc.close"]()


def _make(client, about="question:respect", due=None, **fields):
    new = f"/manager/actions/new?site_id=S0001&about={about}&period=2026-11"
    form = client.get(new)
    due = due or (events.now().date() + dt.timedelta(days=3)).isoformat()
    body = {
        "csrf_token": csrf_of(form),
        "site_id": "S0001",
        "about": about,
        "period": "2026-11",
        "due_on": due,
        **fields,
    }
    return form, client.post("/manager/actions/new", data=body)


def test_an_action_is_made_from_a_not_good_answer_and_followed_to_the_board(app, settings, db):
    client = manager_client(app, settings, **RM1)
    form, refused = _make(client, due="2020-01-01")
    page = form.get_data(as_text=True)
    assert "Elm Court" in page and "“Not good” to “Do staff treat you with respect?”" in page
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "There is a problem" in text
    for words in ("Write what will be done", "Write who will do it", "cannot be in the past"):
        assert words in text
    _form, made = _make(client, what="Talk with the team about knocking before going in", owner="Site manager")
    assert made.status_code == 303
    action_id = re.search(r"/manager/actions/([0-9a-f-]{36})\?added=1$", made.headers["Location"]).group(1)
    stored = db["actions"].find_one({"_id": action_id})
    assert stored["status"] == "open" and stored["about"] == {"kind": "question", "id": "respect"}
    assert stored["site_id"] == "S0001" and stored["region_id"] == "R01" and stored["created_by"] == "rm1"
    # On the home page of the managers of that site until it is done, with when it is due.
    home = client.get("/manager/today").get_data(as_text=True)
    due_list = re.search(r'data-list="actions-due">(.*?)</section>', home, re.S).group(1)
    assert action_id in due_list and "due in 3 days" in due_list
    page = client.get(f"/manager/actions/{action_id}")
    no_words = client.post(f"/manager/actions/{action_id}", data={"csrf_token": csrf_of(page), "status": "done"})
    assert no_words.status_code == 400 and "Write what was done" in no_words.get_data(as_text=True)
    done = client.post(
        f"/manager/actions/{action_id}",
        data={"csrf_token": csrf_of(page), "status": "done", "done_words": "Staff now knock and wait before going in."},
    )
    assert done.status_code == 303
    assert db["actions"].find_one({"_id": action_id})["status"] == "done"
    assert action_id not in client.get("/manager/today").get_data(as_text=True)
    board = client.get("/sites/S0001/board").get_data(as_text=True)
    item = board[board.index(f'data-item="{action_id}"') :].split('class="item"')[0]
    assert "You said staff do not always treat you with respect." in item
    assert "Staff now knock and wait before going in." in item


def test_a_theme_will_not_be_done_with_a_reason_and_the_csv_lists_every_action(app, settings, db):
    client = manager_client(app, settings, **RM1)
    _form, made = _make(client, about="theme:food", what="Ask about a new menu", owner="Cook")
    action_id = made.headers["Location"].split("/")[-1].split("?")[0]
    page = client.get(f"/manager/actions/{action_id}")
    assert "Not working: Food and meals" in page.get_data(as_text=True)
    client.post(
        f"/manager/actions/{action_id}",
        data={"csrf_token": csrf_of(page), "status": "wont_do", "reason": "The menu is set by the dietitian."},
    )
    board = client.get("/sites/S0001/board").get_data(as_text=True)
    assert "You said this is not working: food and meals." in board
    assert "We will not do this. This is why: The menu is set by the dietitian." in board
    response = client.get("/manager/actions?format=csv")
    assert response.headers["Content-Type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert row["site"] == "Elm Court" and row["status"] == "Will not be done" and row["about"].startswith("Not working")


def test_only_managers_of_the_site_see_or_change_its_actions(app, settings, db):
    _form, made = _make(manager_client(app, settings, **RM1), what="Fix the lift", owner="Estates")
    action_id = made.headers["Location"].split("/")[-1].split("?")[0]
    other = manager_client(app, settings, **RM2)
    assert other.get(f"/manager/actions/{action_id}").status_code == 404
    assert other.get("/manager/actions/new?site_id=S0001&about=question:respect").status_code == 404
    assert action_id not in other.get("/manager/actions").get_data(as_text=True)
    assert action_id not in other.get("/manager/today").get_data(as_text=True)
    site_manager = manager_client(app, settings, username="sm1", role="site_manager", region_id="R01", site_id="S0001")
    assert site_manager.get(f"/manager/actions/{action_id}").status_code == 200
    ours = manager_client(app, settings, **RM1)
    assert ours.get("/manager/actions/new?site_id=S0001&about=nonsense").status_code == 404
    made_up = ours.get("/manager/actions/new?site_id=S0001&about=question:made-up")
    assert made_up.status_code == 404, "only questions and themes people answer can go on a board"
    odd = ours.get("/manager/actions/new?site_id=S0001&about=theme:food&period=20x6-99")
    assert odd.status_code == 200 and "20x6-99" not in odd.get_data(as_text=True)  # not a period: left out


def test_a_late_action_is_passed_up_to_the_regional_manager_once(db, settings, publisher, stack):
    from services.notify.stores.actions import About, Actions

    handler = builders.notify_handler(
        db, settings, publisher, with_scheduler=True
    )  # Elm Court S0001 (R01); RM1 has e-mail
    store = Actions(db)
    yesterday = (events.now().date() - dt.timedelta(days=1)).isoformat()
    fields = {"what": "Mend the shower", "owner": "Estates team", "due_on": yesterday}
    late = store.add({"_id": "S0001", "region_id": "R01"}, About("question", "home-clean"), None, fields, "sm1")
    fields = {**fields, "due_on": (events.now().date() + dt.timedelta(days=1)).isoformat()}
    store.add({"_id": "S0001", "region_id": "R01"}, About("question", "home-clean"), None, fields, "sm1")  # not late
    assert handler.scheduler.escalate_late_actions(handler) == 1
    assert handler.scheduler.escalate_late_actions(handler) == 0, "once"
    assert db["actions"].find_one({"_id": late["_id"]})["escalated_at"] is not None
    mails = wait_for(
        lambda: [m for m in builders.my_mail(stack, settings) if "is late" in m["Subject"]],
        10,
        "the late action e-mail",
    )
    [mail] = mails
    assert mail["To"].startswith("rm1-") and "Mend the shower" in mail.get_body(("plain",)).get_content()
    assert f"/manager/actions/{late['_id']}" in mail.get_body(("plain",)).get_content()
