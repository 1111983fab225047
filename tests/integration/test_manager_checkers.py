"""Managers add and look after checkers on pages, over the real database and broker: the record, pairing,
stopping (every link stops, the others are told), scope, and errors in plain words."""

from __future__ import annotations

import re

import pytest

from qc.settings import TOPICS
from services.checks.stores.directory import Directory
from tests.conftest import csrf_of, manager_client, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def world(checks_app):
    directory = Directory(checks_app.extensions["qc.checks"].db)
    directory.upsert("region", {"_id": "R02", "name": "Region 2", "active": True})
    directory.upsert("site", {"_id": "S0002", "name": "Elm Court", "region_id": "R01", "active": True})
    directory.upsert("site", {"_id": "S0009", "name": "Far Away", "region_id": "R02", "active": True})
    directory.upsert("person", {"_id": "C2", "name": "Dee", "role": "checker", "site_id": "S0002", "active": True})
    directory.upsert("person", {"_id": "C9", "name": "Zed", "role": "checker", "site_id": "S0009", "active": True})
    return checks_app, directory


RM1 = {"username": "rm1", "role": "regional_manager", "region_id": "R01"}
SM1 = {"username": "sm1", "role": "site_manager", "region_id": "R01", "site_id": "S0001"}


def test_a_regional_manager_adds_a_checker_who_is_published_and_can_be_given_a_link(world, settings):
    app, directory = world
    client = manager_client(app, settings, **RM1)
    form = client.get("/manager/checkers/new")
    page = form.get_data(as_text=True)
    assert "Oak House" in page and "Elm Court" in page and "Far Away" not in page  # their region's services only
    refused = client.post("/manager/checkers/new", data={"csrf_token": csrf_of(form), "consent": "yes", "site_id": ""})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "There is a problem" in text
    for words in (
        "Write their name.",
        "Choose the service where they will check.",
        "Write the day they agreed",
    ):
        assert words in text
    added = client.post(
        "/manager/checkers/new",
        data={
            "csrf_token": csrf_of(form),
            "site_id": "S0002",
            "name": "Sam",
            "consent": "yes",
            "consent_on": "2026-11-02",
            "consent_how": "signed the easy-read form",
            "supporter_name": "Pat",
            "supporter_contact": "pat@example.org",
            "supporter_help": "Read the questions out",
        },
    )
    assert added.status_code == 303
    checker_id = re.search(r"/manager/checkers/(C-[0-9a-f]{10})\?added=1$", added.headers["Location"]).group(1)
    person = directory.person(checker_id)
    assert person["role"] == "checker" and person["site_id"] == "S0002" and person["active"] is True
    assert person["supporter_email"] == "pat@example.org"
    assert person["record"]["consent"] == {"on": "2026-11-02", "how": "signed the easy-read form"}
    assert person["record"]["invited"]["by"] == "rm1"
    published = read_topic(settings, TOPICS["directory"], lambda evs: any(e["data"]["id"] == checker_id for e in evs))
    [event] = [e for e in published if e["data"]["id"] == checker_id]
    assert event["data"]["role"] == "checker" and event["data"]["site_id"] == "S0002"
    assert "record" not in event["data"] and "Read the questions out" not in str(event), "the record stays here"
    record = client.get(added.headers["Location"]).get_data(as_text=True)
    assert "Sam is now a checker at Elm Court" in record and "Yes, on 2 November 2026" in record
    assert f"/manager/checkers/{checker_id}/links" in record and "None written down yet" in record
    # Training written down on "Time and training" (the organisation's courses offered as you type) shows here.
    entries = client.get(f"/manager/checkers/{checker_id}/contributions")
    assert '<option value="Induction: what a quality checker does">' in entries.get_data(as_text=True)
    course = {"date": "2026-11-03", "kind": "training", "hours": "2", "title": "Induction: what a quality checker does"}
    assert (
        client.post(
            f"/manager/checkers/{checker_id}/contributions", data={"csrf_token": csrf_of(entries), **course}
        ).status_code
        == 303
    )
    trained = client.get(f"/manager/checkers/{checker_id}").get_data(as_text=True)
    assert "Induction: what a quality checker does (3 November 2026)" in trained
    log = list(directory.link_log.find({"checker_id": checker_id}))
    assert [(entry["action"], entry["by"]) for entry in log] == [("added as a checker", "rm1")]


def test_the_record_is_changed_paired_in_scope_and_a_stop_ends_every_link(world, settings):
    app, directory = world
    client = manager_client(app, settings, **RM1)
    page = client.get("/manager/checkers/C1")
    text = page.get_data(as_text=True)
    assert "Not recorded yet" in text and 'value="C2"' in text and 'value="C9"' not in text  # pair within reach
    wrong = client.post("/manager/checkers/C1", data={"csrf_token": csrf_of(page), "name": "C", "paired_with": "C9"})
    assert wrong.status_code == 400 and "Choose a checker from the list, or nobody." in wrong.get_data(as_text=True)
    saved = client.post(
        "/manager/checkers/C1",
        data={
            "csrf_token": csrf_of(page),
            "name": "Cal",
            "consent": "not_yet",
            "paired_with": "C2",
            "supporter_contact": "07700 900123",
        },
    )
    assert saved.status_code == 303
    person = directory.person("C1")
    assert person["name"] == "Cal" and person["record"]["paired_with"] == "C2"
    assert person["supporter_email"] is None and person["record"]["supporter"]["contact"] == "07700 900123"
    assert directory.live_links("C1"), "the fixture's link works until the checker stops"
    no_reason = client.post("/manager/checkers/C1/stop", data={"csrf_token": csrf_of(page), "reason": " "})
    assert no_reason.status_code == 400 and "Write why they are stopping" in no_reason.get_data(as_text=True)
    assert directory.person("C1")["active"] is True
    stopped = client.post("/manager/checkers/C1/stop", data={"csrf_token": csrf_of(page), "reason": "Moved away"})
    assert stopped.status_code == 303
    person = directory.person("C1")
    assert person["active"] is False and person["record"]["stopped"]["reason"] == "Moved away"
    assert directory.live_links("C1") == [], "every link stopped at once"
    assert app.test_client().get(f"/s/{app.token}").status_code == 404, "the old link no longer signs in"
    again = client.post("/manager/checkers/C1/stop", data={"csrf_token": csrf_of(page), "reason": "Moved away"})
    assert again.status_code == 303, "a second press shows the page that says so"
    published = read_topic(
        settings, TOPICS["directory"], lambda evs: any(e["data"]["id"] == "C1" and not e["data"]["active"] for e in evs)
    )
    assert any(e["data"]["id"] == "C1" and not e["data"]["active"] for e in published)
    after = client.get("/manager/checkers/C1").get_data(as_text=True)
    assert "Stopped being a checker on" in after and "Why: Moved away" in after and "data-record-form" not in after
    # They come back: active again, the stop kept in their record, their old link still stopped.
    back = client.post("/manager/checkers/C1/restart", data={"csrf_token": csrf_of(page)})
    assert back.status_code == 303
    person = directory.person("C1")
    assert person["active"] is True and person["record"]["past_stops"][0]["reason"] == "Moved away"
    assert "stopped" not in person["record"] and directory.live_links("C1") == []
    published = read_topic(
        settings,
        TOPICS["directory"],
        lambda evs: [e["data"]["active"] for e in evs if e["data"]["id"] == "C1"][-1:] == [True],
    )
    assert [e["data"]["active"] for e in published if e["data"]["id"] == "C1"][-1] is True
    actions = [entry["action"] for entry in directory.link_log.find({"checker_id": "C1"}, sort=[("at", 1)])]
    assert actions[0] == "record changed" and "stopped being a checker" in actions and "deactivated" in actions
    assert actions[-1] == "checking again"


def test_managers_see_only_the_checkers_they_may_see(world, settings):
    app, _directory = world
    site_manager = manager_client(app, settings, **SM1)
    assert site_manager.get("/manager/checkers/C1").status_code == 200
    assert site_manager.get("/manager/checkers/C2").status_code == 403  # another service
    form = site_manager.get("/manager/checkers/new").get_data(as_text=True)
    assert "Oak House" in form and "Elm Court" not in form
    other = manager_client(app, settings, username="rm2", role="regional_manager", region_id="R02")
    assert other.get("/manager/checkers/C1").status_code == 403
    assert other.get("/manager/checkers/no-such").status_code == 404
    lead = manager_client(app, settings, username="ad", role="org_admin")
    assert lead.get("/manager/checkers/new").status_code == 303  # choose a region first
    assert "Far Away" in lead.get("/manager/checkers/new?region_id=R02").get_data(as_text=True)


def test_the_same_form_sent_twice_adds_one_checker_and_a_re_import_keeps_the_record(world, settings):
    app, directory = world
    client = manager_client(app, settings, **RM1)
    form = client.get("/manager/checkers/new")
    form_id = re.search(r'name="form_id" value="([0-9a-f]+)"', form.get_data(as_text=True)).group(1)
    body = {"csrf_token": csrf_of(form), "form_id": form_id, "site_id": "S0002", "name": "Ali", "consent": "not_yet"}
    first, second = client.post("/manager/checkers/new", data=body), client.post("/manager/checkers/new", data=body)
    assert first.headers["Location"] == second.headers["Location"]
    assert directory.people.count_documents({"name": "Ali"}) == 1
    checker_id = first.headers["Location"].split("/")[-1].split("?")[0]
    # Paired by the regional manager with someone at another service; the site manager there cannot see that
    # partner, yet saving the record keeps the pairing.
    page = client.get(f"/manager/checkers/{checker_id}")
    client.post(
        f"/manager/checkers/{checker_id}",
        data={"csrf_token": csrf_of(page), "name": "Ali", "consent": "not_yet", "paired_with": "C1"},
    )
    site_manager = manager_client(app, settings, username="sm2", role="site_manager", region_id="R01", site_id="S0002")
    theirs = site_manager.get(f"/manager/checkers/{checker_id}")
    assert "(as kept so far)" in theirs.get_data(as_text=True)
    kept = site_manager.post(
        f"/manager/checkers/{checker_id}",
        data={"csrf_token": csrf_of(theirs), "name": "Ali B", "consent": "not_yet", "paired_with": "C1"},
    )
    assert kept.status_code == 303 and directory.person(checker_id)["record"]["paired_with"] == "C1"
    # The directory import (qc import) replaces people whole: what managers wrote here stays.
    directory.upsert("person", {"_id": checker_id, "name": "Ali B", "role": "checker", "site_id": "S0002"})
    assert directory.person(checker_id)["record"]["paired_with"] == "C1"
