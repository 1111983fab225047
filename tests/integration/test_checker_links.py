"""Checker links can be stopped by the people responsible, expire unused, and never sign a phone in as someone else."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re

import pytest

from qc import auth, events, web
from qc.settings import TOPICS
from services.checks.bootstrap import create_app
from services.checks.stores.directory import Directory
from tests.conftest import read_topic, run_qc

pytestmark = pytest.mark.integration
SM1 = auth.Principal("sm1", "site_manager", "R01", "S0001")
SM2 = auth.Principal("sm2", "site_manager", "R02", "S0002")


def _manager(app, settings, principal):
    client = app.test_client()
    session = auth.issue_manager_token(settings.secret_key, principal)
    client.set_cookie(web.MANAGER_COOKIE, session)
    return client, web.manager_csrf_token(settings, session)


def _phone(app, token):
    client = app.test_client()
    assert client.get(f"/s/{token}").status_code == 303
    return client


def _signed_in(client) -> bool:
    return client.get("/my-checks").status_code == 200


def _api_ok(app, token) -> bool:
    response = app.test_client().get("/api/v1/submissions/none", headers={"Authorization": f"Bearer {token}"})
    return response.status_code != 401


def _second_checker(app, checker_id="C2", name="Alex Jones"):
    directory = Directory(app.extensions["qc.checks"].db)
    directory.upsert("person", {"_id": checker_id, "name": name, "role": "checker", "site_id": "S0001"})
    token = auth.new_checker_token()
    directory.add_checker_token(checker_id, "S0001", auth.hash_checker_token(token))
    return token


def test_a_site_manager_stops_every_link_of_their_checker_on_every_phone(checks_app, settings):
    second = auth.new_checker_token()
    Directory(checks_app.extensions["qc.checks"].db).add_checker_token("C1", "S0001", auth.hash_checker_token(second))
    phones = [_phone(checks_app, checks_app.token), _phone(checks_app, second)]
    assert all(_signed_in(p) for p in phones)
    manager, csrf = _manager(checks_app, settings, SM1)
    page = manager.get("/manager/checkers/C1/links")
    assert page.status_code == 200 and page.get_data(as_text=True).count("<tr><td>") == 2

    stopped = manager.post("/manager/checkers/C1/links/stop", data={"csrf_token": csrf})
    assert stopped.status_code == 303
    after = manager.get(stopped.headers["Location"]).get_data(as_text=True)
    assert "2 link(s) stopped" in after and "No link of theirs works now" in after
    assert not any(_signed_in(p) for p in phones)  # the sessions were the links
    assert not _api_ok(checks_app, checks_app.token) and not _api_ok(checks_app, second)
    # The other services hear of it (they refuse the board links given before this moment).
    published = read_topic(
        settings,
        TOPICS["directory"],
        lambda seen: any(e["data"]["id"] == "C1" and e["data"].get("links_reset_at") for e in seen),
    )
    event = next(e for e in reversed(published) if e["data"]["id"] == "C1" and e["data"].get("links_reset_at"))
    events.validate(event, schemas_dir=settings.schemas_dir)
    # Written down: who stopped them, when, how many.
    [entry] = checks_app.extensions["qc.checks"].directory.link_log.find({"checker_id": "C1"})
    assert (entry["action"], entry["by"], entry["role"], entry["count"]) == ("stopped", "sm1", "site_manager", 2)
    # A manager of another site may not.
    other, other_csrf = _manager(checks_app, settings, SM2)
    assert other.get("/manager/checkers/C1/links").status_code == 403
    assert other.post("/manager/checkers/C1/links/stop", data={"csrf_token": other_csrf}).status_code == 403


def test_a_new_link_is_shown_once_and_the_old_ones_stop(checks_app, settings):
    old_phone = _phone(checks_app, checks_app.token)
    manager, csrf = _manager(checks_app, settings, SM1)
    made = manager.post("/manager/checkers/C1/links/new", data={"csrf_token": csrf})
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    link = re.search(r"<code class=\"secret\" data-link>([^<]+)</code>", made.get_data(as_text=True)).group(1)
    token = link.rsplit("/s/", 1)[1]
    assert not _signed_in(old_phone) and not _api_ok(checks_app, checks_app.token)
    assert _signed_in(_phone(checks_app, token)) and _api_ok(checks_app, token)
    stored = json.dumps(list(checks_app.extensions["qc.checks"].db["checker_tokens"].find()), default=str)
    assert token not in stored  # only its hash is kept
    page = made.get_data(as_text=True)
    card = page[page.index("data-link-card") :]
    assert '<svg role="img"' in card and "<title>QR code of the sign-in link for C</title>" in card
    assert "Point it at the square." in card and "Keep this card safe." in card
    again = manager.get("/manager/checkers/C1/links").get_data(as_text=True)
    assert token not in again and "data-link-card" not in again  # shown once, the card too
    log = checks_app.extensions["qc.checks"].directory.link_log.find({"checker_id": "C1"}, sort=[("at", 1)])
    assert [(e["action"], e["by"]) for e in log] == [("stopped", "sm1"), ("issued", "sm1")]


def test_a_link_unused_for_too_long_stops(settings, checks_app):
    app = create_app({**dataclasses.asdict(settings), "checker_link_idle_days": 30})
    try:
        tokens = app.extensions["qc.checks"].db["checker_tokens"]
        token_hash = auth.hash_checker_token(checks_app.token)
        tokens.update_one({"_id": token_hash}, {"$set": {"used_at": events.now() - dt.timedelta(days=29)}})
        assert _api_ok(app, checks_app.token)  # used within the limit: it works, and its use is recorded
        assert tokens.find_one({"_id": token_hash})["used_at"] > events.now() - dt.timedelta(minutes=1)
        tokens.update_one({"_id": token_hash}, {"$set": {"used_at": events.now() - dt.timedelta(days=31)}})
        app.extensions["qc.checks"].directory.token_table.forget()  # as if 31 days had passed in this process
        page = app.test_client().get(f"/s/{checks_app.token}")
        assert page.status_code == 404 and "This link does not work" in page.get_data(as_text=True)
        assert not _api_ok(app, checks_app.token)
        assert tokens.find_one({"_id": token_hash})["revoked_at"] is not None  # stopped for good
        assert [e["action"] for e in app.extensions["qc.checks"].directory.link_log.find()] == ["expired"]
    finally:
        app.extensions["qc.close"]()


def test_a_phone_signed_in_for_someone_else_asks_before_it_changes(checks_app):
    alex = _second_checker(checks_app)
    phone = _phone(checks_app, alex)
    asked = phone.get(f"/s/{checks_app.token}")
    text = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Is this your link?" in text
    assert "data-link-name>C</strong>" in text and "data-current-name>Alex Jones</strong>" in text
    assert asked.headers["Cache-Control"] == "no-store"
    assert _whose(phone) == "C2"  # unchanged until they say so
    # A form posted from elsewhere (another site, a forged link) cannot switch it: it asks again.
    forged = phone.post(f"/s/{checks_app.token}", data={"switch": "0" * 64})
    assert forged.status_code == 200 and "Is this your link?" in forged.get_data(as_text=True)
    assert _whose(phone) == "C2"
    proof = re.search(r'name="switch" value="([0-9a-f]{64})"', text).group(1)
    switched = phone.post(f"/s/{checks_app.token}", data={"switch": proof})
    assert switched.status_code == 303 and _whose(phone) == "C1"
    # A new link of the person already signed in needs no question.
    same = _phone(checks_app, checks_app.token).get(f"/s/{checks_app.token}")
    assert same.status_code == 303


def _whose(client) -> str:
    cookie = client.get_cookie("qc_checker")
    return Directory(_app_db(client)).checker_for_token(auth.hash_checker_token(cookie.value))["checker_id"]


def _app_db(client):
    return client.application.extensions["qc.checks"].db


def _cli(stack, settings, *args):
    return run_qc({**os.environ, **stack.env, "QC_MONGO_DB": settings.mongo_db}, *args, timeout=120)


def test_the_command_line_stops_links_and_makes_a_new_one(stack, settings, checks_app):
    kept = _cli(stack, settings, "checker-link", "C1", "--keep-old")
    assert kept.returncode == 0 and _api_ok(checks_app, checks_app.token)
    second = kept.stdout.strip().rsplit("/s/", 1)[1]
    fresh = _cli(stack, settings, "checker-link", "C1")
    assert fresh.returncode == 0 and "stopped 2 older link(s) of C1" in fresh.stderr
    newest = fresh.stdout.strip().rsplit("/s/", 1)[1]
    assert not _api_ok(checks_app, checks_app.token) and not _api_ok(checks_app, second)
    assert _api_ok(checks_app, newest)
    stop = _cli(stack, settings, "checker-link", "C1", "--stop")
    assert stop.returncode == 0 and stop.stdout == "" and not _api_ok(checks_app, newest)


def test_deactivating_a_checker_stops_their_links_at_once(stack, settings, checks_app, tmp_path):
    phone = _phone(checks_app, checks_app.token)
    people = {"people": [{"id": "C1", "name": "C", "role": "checker", "site_id": "S0001", "active": False}]}
    (tmp_path / "d.json").write_text(json.dumps(people))
    done = _cli(stack, settings, "directory", "import", str(tmp_path / "d.json"))
    assert done.returncode == 0, done.stderr
    assert not _signed_in(phone) and not _api_ok(checks_app, checks_app.token)
    person = checks_app.extensions["qc.checks"].directory.person("C1")
    assert person["links_reset_at"] is not None  # board links given before now stop in notify
    log = checks_app.extensions["qc.checks"].directory.link_log.find({"checker_id": "C1"})
    assert [(e["action"], e["count"]) for e in log] == [("deactivated", 1)]
    # Re-importing the same file changes nothing more, and no new link can be made for them.
    assert _cli(stack, settings, "directory", "import", str(tmp_path / "d.json")).returncode == 0
    assert _cli(stack, settings, "checker-link", "C1").returncode == 1
