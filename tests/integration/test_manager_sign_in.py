"""Managers sign in on checks; the cookie then opens the pages on aggregate."""

from __future__ import annotations

import dataclasses
import re

import pytest

from qc import auth
from services.checks.bootstrap import create_app
from services.checks.stores.directory import Directory

pytestmark = pytest.mark.integration


@pytest.fixture
def client(settings):
    app = create_app(dataclasses.asdict(settings))
    directory = Directory(app.extensions["qc.checks"].db)
    directory.ensure_indexes()
    directory.upsert(
        "person",
        {
            "_id": "RM-R01",
            "name": "RM",
            "role": "regional_manager",
            "username": "rm-r01",
            "region_id": "R01",
            "active": True,
            "password_hash": auth.password_hasher().hash("correct horse"),
        },
    )
    with app.test_client() as c:
        yield c
    app.extensions["qc.close"]()


def _csrf(client):
    page = client.get("/manager/sign-in?next=http://127.0.0.1:8002/manager/regions/R01").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_sign_in_sets_a_session_that_every_service_accepts(client, settings):
    token = _csrf(client)
    response = client.post(
        "/manager/sign-in",
        data={
            "csrf_token": token,
            "username": "rm-r01",
            "password": "correct horse",
            "next": f"{settings.aggregate_public_url}/manager/regions/R01",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"{settings.aggregate_public_url}/manager/regions/R01"
    cookie = client.get_cookie("qc_manager")
    assert cookie.http_only
    principal = auth.read_manager_token(settings.secret_key, cookie.value, 60)
    assert (principal.role, principal.region_id) == ("regional_manager", "R01")


def test_wrong_password_and_missing_csrf_are_refused(client):
    token = _csrf(client)
    wrong = client.post("/manager/sign-in", data={"csrf_token": token, "username": "rm-r01", "password": "nope"})
    assert wrong.status_code == 401 and "not right" in wrong.get_data(as_text=True)
    assert client.get_cookie("qc_manager") is None
    forged = client.post(
        "/manager/sign-in", data={"csrf_token": "x", "username": "rm-r01", "password": "correct horse"}
    )
    assert forged.status_code == 400 and client.get_cookie("qc_manager") is None


def test_next_cannot_send_people_elsewhere(client, settings):
    token = _csrf(client)
    response = client.post(
        "/manager/sign-in",
        data={"csrf_token": token, "username": "rm-r01", "password": "correct horse", "next": "https://evil.example/"},
    )
    assert response.headers["Location"] == f"{settings.notify_public_url}/manager/today"  # the home: needs you today


def test_the_involvement_lead_lands_on_their_checkers_not_on_alerts(client, settings):
    """The involvement lead reads no alerts, so their home is the checkers, not "Needs you today"."""
    directory = Directory(client.application.extensions["qc.checks"].db)
    person = {"_id": "IL-1", "name": "IL", "role": "involvement_lead", "username": "involvement", "active": True}
    directory.upsert("person", {**person, "password_hash": auth.password_hasher().hash("staple battery")})
    token = _csrf(client)
    response = client.post(
        "/manager/sign-in", data={"csrf_token": token, "username": "involvement", "password": "staple battery"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"{settings.checks_public_url}/manager/checkers"
    principal = auth.read_manager_token(settings.secret_key, client.get_cookie("qc_manager").value, 60)
    assert principal.role == "involvement_lead" and principal.can_see_region("R07") and not principal.reads_alerts
