"""An action reaches the checkers who said what it is about, through the real broker and database.

notify publishes each change of an action (``org.qc.action.changed`` on qc.actions); the checks worker puts
it on My checks beside each counted check of that site, in the action's period, that said it; the checker
is asked "Is it better now?" once it is done, and a "no" comes back to notify (``org.qc.fix.feedback``),
which puts the action back on its managers' home page and counts it on the board.

Its sites and regions have ids of their own: the checks it decides are published to the shared broker,
which the end-to-end tier's services read too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from qc import auth, events, periods, text_keys
from qc.handler import Delivery
from qc.settings import TOPICS
from services.aggregate.bootstrap import create_app as aggregate_app
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.fix_feedback import Feedback
from services.aggregate.stores.rollups import RollupStore
from services.aggregate.worker import AggregateHandler
from services.checks.bootstrap import create_app as checks_app
from services.checks.stores.directory import Directory
from services.checks.stores.submissions import Submissions
from services.checks.worker import ChecksHandler
from services.notify.bootstrap import create_app as notify_app
from services.notify.jobs import action_events
from services.notify.stores.actions import About, Actions
from tests import builders
from tests.conftest import csrf_of, manager_client, read_topic

pytestmark = pytest.mark.integration
RM1 = {"username": "rm93", "role": "regional_manager", "region_id": "R93"}
TODAY = dt.date.today()
THIS_MONTH = periods.current("month", TODAY)
RESPECT = "Do staff treat you with respect?"


def _check(checker: str, site: str, respect: int, visited_on: dt.date = TODAY, not_working=()) -> dict:
    answers = [{"question_id": "respect", "score": respect, "comment": "Someone shouted at me."}]
    return builders.received(
        site, checker_id=checker, visited_on=visited_on.isoformat(), answers=answers, not_working=list(not_working)
    )


@pytest.fixture
def world(settings, db, publisher):
    """Elm Court (S9201) with checkers C1 and C2, Far Away (S9202) with C3; each has sent checks, decided."""
    directory = Directory(db)
    for region in ("R93", "R94"):
        directory.upsert("region", {"_id": region, "name": region, "active": True})
    for site, name, region in (("S9201", "Elm Court", "R93"), ("S9202", "Far Away", "R94")):
        directory.upsert("site", {"_id": site, "name": name, "region_id": region, "active": True})
    for person, site in (("C1", "S9201"), ("C2", "S9201"), ("C3", "S9202")):
        directory.upsert("person", {"_id": person, "name": person, "role": "checker", "site_id": site, "active": True})
    Submissions(db).ensure_indexes()
    checks = ChecksHandler(settings, db, publisher)
    sent = {
        "C1 now": _check("C1", "S9201", 1, not_working=["The food is always cold"]),
        "C1 before": _check("C1", "S9201", 1, visited_on=TODAY - dt.timedelta(days=40)),  # another period
        "C2 now": _check("C2", "S9201", 3, not_working=["The garden is locked"]),  # said respect was good
        "C3 now": _check("C3", "S9202", 1, not_working=["Cold food again"]),  # another site
    }
    checks.handle([Delivery(record=None, event=e) for e in sent.values()])
    notify = builders.notify_handler(db, settings, publisher, with_scheduler=True)
    notify.knowledge.apply_directory({"entity": "region", "id": "R93", "name": "North"})
    for site, name, region in (("S9201", "Elm Court", "R93"), ("S9202", "Far Away", "R94")):
        notify.knowledge.apply_directory(
            {"entity": "site", "id": site, "name": name, "region_id": region, "active": True}
        )
    manager_app = notify_app(dataclasses.asdict(settings))
    phone_app = checks_app(dataclasses.asdict(settings))
    phones = {}
    for person, site in (("C1", "S9201"), ("C2", "S9201"), ("C3", "S9202")):
        token = auth.new_checker_token()
        directory.add_checker_token(person, site, auth.hash_checker_token(token))
        phones[person] = phone_app.test_client()
        phones[person].get(f"/s/{token}")
    yield dataclasses.make_dataclass("World", ["checks", "notify", "manager", "phones", "sent"])(
        checks, notify, manager_client(manager_app, settings, **RM1), phones, {k: e["data"] for k, e in sent.items()}
    )
    manager_app.extensions["qc.close"]()
    phone_app.extensions["qc.close"]()


def _told(settings, world, action_id: str, count: int) -> dict:
    """The action's changes published so far (at least ``count``), all handed to the checks worker; the last."""
    told = read_topic(
        settings,
        TOPICS["actions"],
        lambda evs: sum(e["data"].get("action_id") == action_id for e in evs) >= count,
    )
    mine = [e for e in told if e["type"] == "org.qc.action.changed" and e["data"]["action_id"] == action_id]
    for event in mine:
        events.validate(event, schemas_dir=settings.schemas_dir)
    world.checks.handle([Delivery(record=None, event=e) for e in mine])
    return mine[-1]


def _make(world, about: str, what: str) -> str:
    new = f"/manager/actions/new?site_id=S9201&about={about}&period={THIS_MONTH}"
    form = world.manager.get(new)
    body = {"csrf_token": csrf_of(form), "site_id": "S9201", "about": about, "period": THIS_MONTH}
    due = (TODAY + dt.timedelta(days=7)).isoformat()
    made = world.manager.post("/manager/actions/new", data={**body, "due_on": due, "what": what, "owner": "Ann"})
    assert made.status_code == 303
    return re.search(r"/manager/actions/([0-9a-f-]{36})", made.headers["Location"]).group(1)


def _move(world, action_id: str, **fields) -> None:
    page = world.manager.get(f"/manager/actions/{action_id}")
    assert (
        world.manager.post(f"/manager/actions/{action_id}", data={"csrf_token": csrf_of(page), **fields}).status_code
        == 303
    )


def _card(world, checker: str, submission_id: str) -> str:
    """The checker's My checks card of one check ("" when it is not theirs)."""
    page = world.phones[checker].get("/my-checks").get_data(as_text=True)
    start = page.find(f'data-check="{submission_id}"')
    return "" if start < 0 else page[start:].split('class="check-card"')[0]


def test_an_action_about_a_not_good_answer_reaches_only_the_checks_that_said_it(settings, db, world):
    action_id = _make(world, "question:respect", "Talk with the team about knocking first")
    event = _told(settings, world, action_id, 1)
    # Only the managers' words travel: no checker, no comment, no free text of anyone's.
    assert set(event["data"]) == {
        "action_id",
        "site_id",
        "region_id",
        "about",
        "period",
        "status",
        "what",
        "due_on",
        "created_at",
        "at",
    }
    assert "shouted" not in str(event) and "C1" not in str(event)
    said = f"You said “not good” to “{RESPECT}”"
    card = _card(world, "C1", world.sent["C1 now"]["submission_id"])
    assert said in card and "They will do this: “Talk with the team about knocking first”" in card
    assert 'data-action="open"' in card and "Is it better now?" not in card
    # Not a check of another period, nor one that said respect was good, nor another site's.
    assert "data-action" not in _card(world, "C1", world.sent["C1 before"]["submission_id"])
    assert "data-action" not in _card(world, "C2", world.sent["C2 now"]["submission_id"])
    assert "data-action" not in _card(world, "C3", world.sent["C3 now"]["submission_id"])
    assert _card(world, "C2", world.sent["C1 now"]["submission_id"]) == ""  # one checker never sees another's

    _move(world, action_id, status="done", done_words="Staff now knock and wait before going in.")
    _told(settings, world, action_id, 2)
    card = _card(world, "C1", world.sent["C1 now"]["submission_id"])
    assert "We did this: “Staff now knock and wait before going in.”" in card and "Is it better now?" in card
    phone = world.phones["C1"]
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', card).group(1)
    url = f"/my-checks/{world.sent['C1 now']['submission_id']}/actions/{action_id}/better"
    assert phone.post(url, data={"csrf_token": csrf, "answer": "no"}).status_code == 303
    card = _card(world, "C1", world.sent["C1 now"]["submission_id"])
    assert 'data-feedback="no"' in card and "Is it better now?" not in card
    # Someone else's check cannot be answered for.
    other = f"/my-checks/{world.sent['C2 now']['submission_id']}/actions/{action_id}/better"
    assert world.phones["C2"].post(other, data={"csrf_token": csrf, "answer": "no"}).status_code in (400, 404)

    answers = read_topic(settings, TOPICS["feedback"], lambda evs: any(e["data"].get("action_id") for e in evs))
    [answer] = [e for e in answers if e["data"].get("action_id") == action_id]
    events.validate(answer, schemas_dir=settings.schemas_dir)
    assert answer["data"]["answer"] == "no" and "alert_id" not in answer["data"]
    world.notify.handle([Delivery(record=None, event=answer)])
    home = world.manager.get("/manager/today").get_data(as_text=True)
    not_better = re.search(r'data-list="not-better">(.*?)</section>', home, re.S).group(1)
    assert f'data-action="{action_id}"' in not_better and "(1)" in not_better
    page = world.manager.get(f"/manager/actions/{action_id}").get_data(as_text=True)
    assert re.search(r"<td data-better>no</td>", page) and "data-work-again" in page
    board = world.manager.get("/sites/S9201/board").get_data(as_text=True)
    item = board[board.index(f'data-item="{action_id}"') :].split('class="item"')[0]
    assert "Staff now knock" in item and re.search(r"\bno\b", item)
    feedback = Feedback(db)
    feedback.record(answer["data"])  # aggregate counts it as a fix disputed
    assert feedback.counts("site", "S9201", THIS_MONTH)["disputed"] == 1

    # The manager moves it on again: it leaves the "not better" list, and the checker will be asked again.
    _move(world, action_id, status="in_progress")
    home = world.manager.get("/manager/today").get_data(as_text=True)
    assert f'data-action="{action_id}"' not in re.search(r'data-list="not-better">(.*?)</section>', home, re.S).group(1)
    _told(settings, world, action_id, 3)
    card = _card(world, "C1", world.sent["C1 now"]["submission_id"])
    assert 'data-action="in_progress"' in card and "data-feedback" not in card


def test_an_action_about_a_theme_that_will_not_be_done_tells_why(settings, world):
    action_id = _make(world, "theme:food", "Ask the cook about hot meals")
    _move(world, action_id, status="wont_do", reason="The kitchen is being rebuilt until March.")
    _told(settings, world, action_id, 2)
    card = _card(world, "C1", world.sent["C1 now"]["submission_id"])
    assert "You said this is not working: food and meals." in card
    assert "This is why: “The kitchen is being rebuilt until March.”" in card and "Is it better now?" not in card
    assert "data-action" not in _card(world, "C2", world.sent["C2 now"]["submission_id"])  # the garden, not food
    assert "data-action" not in _card(world, "C3", world.sent["C3 now"]["submission_id"])  # food, but elsewhere


def test_a_change_the_broker_did_not_take_is_told_by_the_scheduler(settings, db, world):
    store = Actions(db)
    store.ensure_indexes()
    site = {"_id": "S9201", "region_id": "R93"}
    fields = {"what": "Mend the lock", "owner": "Estates", "due_on": (TODAY + dt.timedelta(days=3)).isoformat()}
    action = store.add(site, About("question", "respect"), THIS_MONTH, fields, "rm1")  # stored, never published
    assert [a["_id"] for a in store.untold()] == [action["_id"]]
    world.notify.scheduler.run(world.notify)
    event = _told(settings, world, action["_id"], 1)
    assert event["id"] == action_events.changed_event(action)["id"]
    assert store.untold() == [] and "Mend the lock" in _card(world, "C1", world.sent["C1 now"]["submission_id"])


def test_an_action_about_a_theme_across_a_region_reaches_the_checks_of_its_sites_that_said_it(settings, world):
    new = f"/manager/actions/new?region_id=R93&about=theme:food&period={THIS_MONTH}"
    form = world.manager.get(new)
    assert form.status_code == 200 and "All of North" in form.get_data(as_text=True)
    assert world.manager.get("/manager/actions/new?region_id=R93&about=question:respect").status_code == 404
    for who in (
        {"username": "sm", "role": "site_manager", "region_id": "R93", "site_id": "S9201"},  # not the whole region
        {"username": "rm94", "role": "regional_manager", "region_id": "R94"},  # another region
    ):
        assert manager_client(world.manager.application, settings, **who).get(new).status_code == 404
    body = {"csrf_token": csrf_of(form), "region_id": "R93", "about": "theme:food", "period": THIS_MONTH}
    due = (TODAY + dt.timedelta(days=7)).isoformat()
    made = world.manager.post(
        "/manager/actions/new", data={**body, "due_on": due, "what": "Hot meals", "owner": "Cook"}
    )
    assert made.status_code == 303
    action_id = re.search(r"/manager/actions/([0-9a-f-]{36})", made.headers["Location"]).group(1)
    assert "All of North" in world.manager.get("/manager/actions").get_data(as_text=True)
    _move(world, action_id, status="done", done_words="Meals now come in heated trolleys.")
    event = _told(settings, world, action_id, 2)
    assert event["data"]["site_id"] is None and event["data"]["region_id"] == "R93"
    card = _card(world, "C1", world.sent["C1 now"]["submission_id"])
    assert "You said this is not working: food and meals." in card and "heated trolleys" in card
    assert "data-action" not in _card(world, "C3", world.sent["C3 now"]["submission_id"])  # food, but in R94
    board = world.manager.get("/sites/S9201/board").get_data(as_text=True)
    assert "People across the region said this is not working: food and meals." in board


def test_an_action_about_one_text_carries_the_managers_words_and_reaches_only_who_wrote_it(settings, world):
    key = text_keys.text_key("the food is ALWAYS cold.", settings.secret_key)  # case and punctuation aside
    assert key == text_keys.text_key(world.sent["C1 now"]["not_working"][0], settings.secret_key)
    new = f"/manager/actions/new?site_id=S9201&about=text:{key}"  # no period: the three months before
    form = world.manager.get(new)
    page = form.get_data(as_text=True)
    assert form.status_code == 200 and 'name="said"' in page and "always cold" not in page  # it has no words
    assert "See what they wrote again" in page
    body = {"csrf_token": csrf_of(form), "site_id": "S9201", "about": f"text:{key}"}
    fields = {"due_on": (TODAY + dt.timedelta(days=7)).isoformat(), "what": "Hot plates for meals", "owner": "Cook"}
    unsaid = world.manager.post("/manager/actions/new", data={**body, **fields})
    assert unsaid.status_code == 400 and "Write what people said, in your own words" in unsaid.get_data(as_text=True)
    made = world.manager.post("/manager/actions/new", data={**body, **fields, "said": "meals arrive cold"})
    assert made.status_code == 303
    action_id = re.search(r"/manager/actions/([0-9a-f-]{36})", made.headers["Location"]).group(1)
    assert "Not working: meals arrive cold" in world.manager.get(f"/manager/actions/{action_id}").get_data(as_text=True)
    event = _told(settings, world, action_id, 1)
    assert event["data"]["about"] == {"kind": "text", "id": key, "words": "meals arrive cold"}
    assert "always" not in str(event["data"])  # the checker's own words never travel
    card = _card(world, "C1", world.sent["C1 now"]["submission_id"])
    assert "You said this is not working: meals arrive cold" in card and "Hot plates for meals" in card
    # C3 wrote about cold food too, in other words and at another site; C2 wrote about the garden.
    assert "data-action" not in _card(world, "C3", world.sent["C3 now"]["submission_id"])
    assert "data-action" not in _card(world, "C2", world.sent["C2 now"]["submission_id"])
    board = world.manager.get("/sites/S9201/board").get_data(as_text=True)
    assert "You said this is not working: meals arrive cold" in board and "always cold" not in board
    # Not a key: nothing to make; nor an action about one text for a whole region.
    assert world.manager.get("/manager/actions/new?site_id=S9201&about=text:the%20food").status_code == 404
    assert world.manager.get(f"/manager/actions/new?region_id=R93&about=text:{key}").status_code == 404


def test_a_sites_page_lists_what_is_being_done_there_and_across_its_region(settings, db, world):
    site_action = _make(world, "question:respect", "Talk with the team about knocking first")
    _move(world, site_action, status="in_progress")

    def mine(found: list[dict]) -> list[dict]:
        return [e for e in found if e["data"].get("action_id") == site_action]

    made = mine(read_topic(settings, TOPICS["actions"], lambda evs: len(mine(evs)) >= 2))
    directory = SiteDirectory(db)
    directory.apply({"entity": "site", "id": "S9201", "name": "Elm Court", "region_id": "R93", "active": True})
    aggregate = AggregateHandler(RollupStore(db), directory, publisher=None)
    aggregate.handle([Delivery(record=None, event=e) for e in reversed(made)])  # out of order: the later one wins
    region_wide = {**made[0]["data"], "action_id": "region-1", "site_id": None, "what": "Hot meals everywhere"}
    aggregate.handle([Delivery(record=None, event={**made[0], "data": region_wide})])
    app = aggregate_app(dataclasses.asdict(settings))
    try:
        page = manager_client(app, settings, **RM1).get("/manager/sites/S9201").get_data(as_text=True)
    finally:
        app.extensions["qc.close"]()
    listed = re.search(r"data-site-actions>(.*?)</ul>", page, re.S).group(1)
    line = listed[listed.index(f'data-action="{site_action}"') :].split("</li>")[0]
    assert "Talk with the team about knocking first" in line and "In progress" in line and "to be done by" in line
    assert "Hot meals everywhere" in listed and "(for the whole region)" in listed
