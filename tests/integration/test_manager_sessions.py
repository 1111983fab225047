"""Manager tokens and sessions can be taken back: sign-out everywhere, role changes, deactivation, idle time."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from qc import auth, web
from qc.settings import TOPICS
from services.aggregate.bootstrap import create_app as create_aggregate
from services.aggregate.stores.directory import SiteDirectory
from services.checks.bootstrap import create_app as create_checks
from services.checks.stores.directory import Directory
from services.notify.bootstrap import create_app as create_notify
from services.notify.stores.knowledge import Knowledge
from tests.conftest import read_topic, wait_for

pytestmark = pytest.mark.integration
RM = {
    "_id": "RM-R01",
    "name": "Rita",
    "role": "regional_manager",
    "username": "rita",
    "region_id": "R01",
    "active": True,
}


@pytest.fixture
def checks(settings):
    app = create_checks(dataclasses.asdict(settings))
    directory = Directory(app.extensions["qc.checks"].db)
    directory.ensure_indexes()
    directory.upsert("person", {**RM, "password_hash": auth.password_hasher().hash("correct horse")})
    yield app
    app.extensions["qc.close"]()


def _bearer(app) -> str:
    response = app.test_client().post("/api/v1/auth/token", json={"username": "rita", "password": "correct horse"})
    assert response.status_code == 200
    return response.json["access_token"]


def _ok(app, path, token) -> bool:
    response = app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (200, 401), response.status_code
    return response.status_code == 200


AGGREGATE, NOTIFY = "/api/v1/rollups/regions/R01?period=2026-11", "/api/v1/alerts"


def _published_person(settings, field):
    seen = read_topic(
        settings,
        TOPICS["directory"],
        lambda evs: any(e["data"]["id"] == RM["_id"] and e["data"].get(field) for e in evs),
    )
    return next(e["data"] for e in reversed(seen) if e["data"]["id"] == RM["_id"] and e["data"].get(field))


def _other_services(settings, person_event):
    """Fresh aggregate and notify apps whose directory copies have had ``person_event`` (as their workers do)."""
    apps = create_aggregate(dataclasses.asdict(settings)), create_notify(dataclasses.asdict(settings))
    SiteDirectory(apps[0].extensions["qc.aggregate"].directory.sites.database).apply(person_event)
    Knowledge(apps[1].extensions["qc.notify"].contacts.database).apply_directory(person_event)
    return apps


def test_signing_out_ends_every_token_and_session_of_that_manager_everywhere(checks, settings):
    # Made two seconds ago (token times are whole seconds; a sign-out in the same second lets them stand).
    token, other_browser = _signed(settings, 2), _signed(settings, 2)
    browser = checks.test_client()
    browser.set_cookie(web.MANAGER_COOKIE, token)
    aggregate, notify = create_aggregate(dataclasses.asdict(settings)), create_notify(dataclasses.asdict(settings))
    try:
        assert _ok(aggregate, AGGREGATE, token) and _ok(notify, NOTIFY, other_browser)  # before: they work
    finally:
        aggregate.extensions["qc.close"](), notify.extensions["qc.close"]()
    out = browser.get("/manager/sign-out")
    assert out.status_code == 303 and "qc_manager=;" in out.headers["Set-Cookie"]
    assert not _ok(checks, "/api/v1/submissions/x", other_browser)  # at once, in the process that signed out
    event = _published_person(settings, "tokens_valid_after")
    aggregate, notify = _other_services(settings, event)
    try:
        assert not _ok(aggregate, AGGREGATE, token) and not _ok(notify, NOTIFY, other_browser)
        refused = notify.test_client().get(NOTIFY, headers={"Authorization": f"Bearer {token}"})
        assert "signed out" in refused.json["detail"]
        assert _ok(notify, NOTIFY, _bearer(checks))  # signing in again works
    finally:
        aggregate.extensions["qc.close"](), notify.extensions["qc.close"]()


def test_a_role_change_or_deactivation_stops_the_old_tokens(checks, settings):
    token = _signed(settings, 2)
    directory = checks.extensions["qc.checks"].directory
    directory.upsert("person", {**RM, "region_id": "R02"})  # moved to another region (a directory import)
    # Another process's copy is read again at most CACHE_SECONDS later; a fresh app reads it at once.
    fresh = create_checks(dataclasses.asdict(settings))
    try:
        refused = fresh.test_client().get("/api/v1/submissions/x", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401 and "role or area has changed" in refused.json["detail"]
    finally:
        fresh.extensions["qc.close"]()
    deactivated = {**RM, "region_id": "R02", "active": False}
    directory.upsert("person", deactivated)
    assert directory.person(RM["_id"])["tokens_valid_after"] is not None
    event = {"entity": "person", "id": RM["_id"], "active": False, "name": "Rita", "role": "regional_manager"}
    aggregate, notify = _other_services(settings, {**event, "username": "rita", "region_id": "R02"})
    try:
        regional = auth.issue_manager_token(settings.secret_key, auth.Principal("rita", "regional_manager", "R02"))
        response = notify.test_client().get(NOTIFY, headers={"Authorization": f"Bearer {regional}"})
        assert response.status_code == 401 and "no longer active" in response.json["detail"]
        assert not _ok(aggregate, "/api/v1/rollups/regions/R02?period=2026-11", regional)
    finally:
        aggregate.extensions["qc.close"](), notify.extensions["qc.close"]()


def test_a_cached_standing_is_read_again_within_its_time(settings, checks):
    """What "within a minute" rests on: a process re-reads a manager at most cache_seconds after it last did."""
    from qc.standing import Standing

    directory = checks.extensions["qc.checks"].directory
    standing = Standing(directory.manager_standing, cache_seconds=0.3)
    token = auth.read_manager_claims(settings.secret_key, _bearer(checks), 60)
    standing.check(token)
    directory.upsert("person", {**RM, "active": False})
    wait_for(lambda: _refused(standing, token), 5, "the change to be read again")


def _refused(standing, token) -> bool:
    try:
        standing.check(token)
    except auth.AuthError:
        return True
    return False


class _Earlier(TimestampSigner):
    """Signs as if it were ``ago`` seconds ago."""

    ago = 0

    def get_timestamp(self) -> int:
        return int(time.time()) - self.ago


def _signed(settings, seconds_ago: int, signed_in_seconds_ago: int | None = None) -> str:
    """Rita's token as the sign-in makes it, signed ``seconds_ago`` (after signing in ``signed_in_seconds_ago``)."""
    signer = type("Signer", (_Earlier,), {"ago": seconds_ago})
    serializer = URLSafeTimedSerializer(settings.secret_key, salt=auth.MANAGER_TOKEN_SALT, signer=signer)
    since = dt.timedelta(seconds=seconds_ago if signed_in_seconds_ago is None else signed_in_seconds_ago)
    principal = auth.Principal("rita", "regional_manager", "R01")
    return serializer.dumps(
        {**dataclasses.asdict(principal), "auth_at": int((dt.datetime.now(dt.UTC) - since).timestamp())}
    )


def _cookie(settings, minutes_ago: int, signed_in_minutes_ago: int) -> str:
    return _signed(settings, minutes_ago * 60, signed_in_minutes_ago * 60)


def test_a_page_session_ends_after_idle_time_and_is_renewed_while_used(settings, checks):
    notify = create_notify(dataclasses.asdict(settings))
    try:

        def page(cookie):
            client = notify.test_client()
            client.set_cookie(web.MANAGER_COOKIE, cookie)
            return client.get("/manager/alerts")

        idle = page(_cookie(settings, 31, 31))
        assert idle.status_code == 303 and "/manager/sign-in" in idle.headers["Location"]
        used = _cookie(settings, 5, 120)
        kept = page(used)
        assert kept.status_code == 200
        renewed = kept.headers["Set-Cookie"]
        assert renewed.startswith("qc_manager=") and "HttpOnly" in renewed
        fresh = renewed.split(";", 1)[0].split("=", 1)[1]
        verified = auth.read_manager_claims(settings.secret_key, fresh, 60)
        assert verified.auth_at == auth.read_manager_claims(settings.secret_key, used, None).auth_at
        # The page's forms still work with the renewed cookie: the CSRF token is bound to the sign-in.
        assert web.manager_csrf_token(settings, fresh) == web.manager_csrf_token(settings, used)
        too_long = page(_cookie(settings, 1, 9 * 60))  # used a minute ago, but signed in 9 hours ago
        assert too_long.status_code == 303
    finally:
        notify.extensions["qc.close"]()
