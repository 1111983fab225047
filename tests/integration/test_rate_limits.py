"""Rate limits: sign-ins shared by every worker and process over the real database; sends counted per process."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import threading
import uuid

import pytest
from pymongo.errors import ServerSelectionTimeoutError

from qc import auth, mongo, rate_limited, ratelimit
from qc.settings import ROOT
from services.checks.bootstrap import create_app
from services.checks.stores.directory import Directory
from tests import builders

pytestmark = pytest.mark.integration
# 50 s into a window: Retry-After is 10 and nothing crosses a window's edge mid-test.
NOW = 1_800_000_000 + 50.0
LIMITS = {
    "rate_limit_submissions_per_minute": 3,
    "rate_limit_submissions_per_address_per_minute": 5,
    "rate_limit_signin_per_minute": 2,
}


def _make_app(settings, **overrides):
    app = create_app({**dataclasses.asdict(settings), **LIMITS, **overrides})
    app.extensions[rate_limited.EXTENSION].clock = lambda: NOW
    return app


@pytest.fixture
def checks(settings):
    """The checks app with small limits, a frozen clock, three checkers and a manager."""
    app = _make_app(settings)
    directory = Directory(app.extensions["qc.checks"].db)
    directory.upsert("region", {"_id": "R01", "name": "Region 1", "active": True})
    directory.upsert("site", {"_id": "S0001", "name": "Oak House", "region_id": "R01", "active": True})
    app.tokens = []
    for checker in ("C1", "C2", "C3"):
        directory.upsert("person", {"_id": checker, "name": checker, "role": "checker", "site_id": "S0001"})
        token = auth.new_checker_token()
        directory.add_checker_token(checker, "S0001", auth.hash_checker_token(token))
        app.tokens.append(token)
    directory.upsert(
        "person",
        {
            "_id": "RM1",
            "role": "regional_manager",
            "username": "rm1",
            "region_id": "R01",
            "active": True,
            "password_hash": auth.password_hasher().hash("correct horse"),
        },
    )
    yield app
    app.extensions["qc.close"]()


def _submit(client, token, address="10.0.0.1", **headers):
    return client.post(
        "/api/v1/submissions",
        json=builders.intake_body(),
        headers={"Authorization": f"Bearer {token}", **headers},
        environ_base={"REMOTE_ADDR": address},
    )


def test_a_checker_token_is_limited_wherever_it_sends_from(checks):
    client = checks.test_client()
    c1, c2, _ = checks.tokens
    assert [_submit(client, c1).status_code for _ in range(3)] == [202, 202, 202]
    refused = _submit(client, c1)
    assert refused.status_code == 429
    assert refused.content_type == "application/problem+json"
    assert refused.headers["Retry-After"] == "10"
    assert refused.json["status"] == 429 and "Wait 10 seconds" in refused.json["detail"]
    # Another address does not help the same token; another checker is not held back by it.
    assert _submit(client, c1, address="10.0.0.2").status_code == 429
    assert _submit(client, c2, address="10.0.0.2").status_code == 202


def test_an_address_is_limited_across_tokens_and_token_guessing(checks):
    client = checks.test_client()
    c1, c2, c3 = checks.tokens
    statuses = [_submit(client, t).status_code for t in (c1, c2, c3, c1, c2)]
    assert statuses == [202] * 5
    assert _submit(client, c3).status_code == 429  # c3's own budget has room; the address has none
    # Guessing tokens from one address is stopped by the same budget, with 429 rather than 401.
    guesses = [_submit(client, f"guess-{i}", address="10.0.0.9").status_code for i in range(7)]
    assert guesses == [401] * 5 + [429] * 2


def test_a_new_window_lets_them_send_again(checks):
    client = checks.test_client()
    c1 = checks.tokens[0]
    for _ in range(3):
        _submit(client, c1)
    assert _submit(client, c1).status_code == 429
    checks.extensions[rate_limited.EXTENSION].clock = lambda: NOW + 10
    assert _submit(client, c1).status_code == 202


def test_two_workers_share_one_sign_in_count(checks, settings):
    """Two apps (two MongoClients, like two gunicorn workers) draw on the same sign-in budget."""
    other = _make_app(settings)
    try:
        clients = [checks.test_client(), other.test_client()]
        wrong = {"username": "rm1", "password": "guess"}
        tries = [clients[i % 2].post("/api/v1/auth/token", json=wrong).status_code for i in range(4)]
        assert tries == [401, 401, 429, 429]
    finally:
        other.extensions["qc.close"]()


def test_each_worker_counts_sends_on_its_own_so_at_most_workers_times_the_limit_get_through(checks, settings):
    """Sending is counted in memory per process: two workers let a checker's 3 a minute through twice, no more."""
    other = _make_app(settings)
    try:
        clients = [checks.test_client(), other.test_client()]
        c1 = checks.tokens[0]
        statuses = [_submit(clients[i % 2], c1, address=f"10.0.1.{i}").status_code for i in range(8)]
        assert statuses == [202] * 6 + [429] * 2
        assert checks.extensions["qc.checks"].db["rate_limits"].count_documents({}) == 0  # no write for sends
    finally:
        other.extensions["qc.close"]()


def test_the_count_is_exact_under_concurrent_processes(settings):
    """Three processes and two threads race on one key: exactly ``limit`` requests are allowed."""
    script = (
        "import sys; from qc import mongo, ratelimit; from qc.settings import Settings; "
        "s = Settings().replace(mongo_uri=sys.argv[1], mongo_db=sys.argv[2]); db = mongo.connect(s, 't'); "
        "r = ratelimit.RateLimiter(db, 'k', clock=lambda: 1800000050.0); "
        "print(sum(r.hit('race', 'one-key', 25).allowed for _ in range(20))); r.flush(); db.client.close()"
    )
    db = mongo.connect(settings, "qc-tests")
    limiter = ratelimit.RateLimiter(db, "k", clock=lambda: NOW)
    # The window's document exists before the race: SecantusDB has been seen, when two first
    # upserts of a document race, to report a duplicate key and not show the document yet, so one
    # hit may be counted twice (one request fewer allowed: the safe side). The race on the count is
    # what this test is about.
    allowed_here = [int(limiter.hit("race", "one-key", 25).allowed)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, settings.mongo_uri, settings.mongo_db], cwd=ROOT, stdout=subprocess.PIPE
        )
        for _ in range(3)
    ]

    def hammer():
        allowed_here.append(sum(limiter.hit("race", "one-key", 25).allowed for _ in range(20)))

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        outputs = [p.communicate(timeout=60)[0] for p in procs]
        for t in threads:
            t.join(timeout=60)
        allowed = sum(int(o) for o in outputs) + sum(allowed_here)
        assert allowed == 25
        # Hits refused by a process's own count were held in memory; written now, every hit is counted.
        limiter.flush()
        [doc] = list(db["rate_limits"].find())
        assert doc["count"] == 101 and "one-key" not in doc["_id"]  # keys are stored only as HMACs
        assert "expires_at" in doc and any(i.get("expireAfterSeconds") == 0 for i in db["rate_limits"].list_indexes())
    finally:
        db.client.drop_database(settings.mongo_db)
        db.client.close()


def _limiter(settings, db, **kw):
    return ratelimit.RateLimiter(db, "k", clock=lambda: NOW, flush_seconds=kw.pop("flush_seconds", 3600), **kw)


@pytest.fixture
def db(settings):
    db = mongo.connect(settings, "qc-tests")
    yield db
    db.client.drop_database(settings.mongo_db)
    db.client.close()


def test_a_large_limit_is_counted_in_memory_within_its_slack_then_written(settings, db):
    """Limit 300: 1 % slack lets a process hold 3 hits before it writes them and reads the shared count."""
    limiter = _limiter(settings, db)
    assert all(limiter.hit("addr", "one", 300).allowed for _ in range(3))
    assert db["rate_limits"].count_documents({}) == 0
    decision = limiter.hit("addr", "one", 300)
    assert decision.allowed and decision.count == 4
    assert [d["count"] for d in db["rate_limits"].find()] == [4]
    # The periodic bulk write takes what is held, for every key at once.
    for key in ("one", "two", "two"):
        limiter.hit("addr", key, 300)
    limiter.flush()
    assert sorted(d["count"] for d in db["rate_limits"].find()) == [2, 5]


def test_a_small_limit_is_exact_with_a_write_per_request(settings, db):
    limiter = _limiter(settings, db)
    for n in range(1, 4):
        assert limiter.hit("token", "one", 30).allowed
        assert [d["count"] for d in db["rate_limits"].find()] == [n]


@pytest.mark.parametrize("flush_seconds", [3600, 0], ids=["held", "written-every-request"])
def test_processes_over_a_limit_overshoot_by_at_most_their_slack(settings, db, flush_seconds):
    """Two processes share limit 200 (slack 2 each): at least 200 and at most 204 of 600 hits are let through.

    Also when the periodic write runs between every two requests (slow traffic): writing its counts does
    not tell a process what the other counted, so it must not renew its slack.
    """
    first, second = (_limiter(settings, db, flush_seconds=flush_seconds) for _ in range(2))
    decisions = [(first if i % 2 else second).hit("addr", "shared", 200) for i in range(600)]
    allowed = sum(d.allowed for d in decisions)
    assert 200 <= allowed <= 204
    # Once a process has refused, its own count says the limit is passed: it never allows again this window.
    for own in (decisions[0::2], decisions[1::2]):
        first_refusal = next(i for i, d in enumerate(own) if not d.allowed)
        assert not any(d.allowed for d in own[first_refusal:])
    assert decisions[-1].retry_after == 10
    first.flush()
    second.flush()
    assert [d["count"] for d in db["rate_limits"].find()] == [600]


def test_held_counts_are_written_about_once_a_second(settings, db):
    """flush_seconds 0: every request finds the periodic write due, so nothing is held for long."""
    limiter = _limiter(settings, db, flush_seconds=0)
    limiter.hit("addr", "one", 300)
    assert [d["count"] for d in db["rate_limits"].find()] == [1]


def test_manager_sign_in_is_limited_per_address_on_the_api_and_the_page(checks):
    client = checks.test_client()
    wrong = {"username": "rm1", "password": "guess"}
    here = {"REMOTE_ADDR": "10.0.0.7"}
    tries = [client.post("/api/v1/auth/token", json=wrong, environ_base=here) for _ in range(3)]
    assert [r.status_code for r in tries] == [401, 401, 429]
    assert tries[-1].headers["Retry-After"] == "10" and tries[-1].json["title"] == "Too many requests"
    # The right password does not get through either while the address is over its limit.
    right = client.post("/api/v1/auth/token", json={"username": "rm1", "password": "correct horse"}, environ_base=here)
    assert right.status_code == 429
    # The sign-in page shares the budget and answers in plain words; reading the page is never refused.
    for _ in range(5):
        assert client.get("/manager/sign-in", environ_base=here).status_code == 200
    page = client.post(
        "/manager/sign-in", data={"username": "rm1", "password": "correct horse", "csrf_token": "x"}, environ_base=here
    )
    assert page.status_code == 429 and page.headers["Retry-After"] == "10"
    assert "Too many tries. Please wait a minute, then try again." in page.get_data(as_text=True)
    assert page.content_type.startswith("text/html") and client.get_cookie("qc_manager") is None
    elsewhere = client.post("/api/v1/auth/token", json={"username": "rm1", "password": "correct horse"})
    assert elsewhere.status_code == 200 and elsewhere.json["token_type"] == "Bearer"


def _signed_in_form(app):
    client = app.test_client()
    assert client.get(f"/s/{app.tokens[0]}").status_code == 303
    return client


def _csrf(client) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/").get_data(as_text=True)).group(1)


def test_the_form_sends_share_the_checker_budget(checks):
    client = _signed_in_form(checks)
    csrf = _csrf(client)
    # The JavaScript form's send: a JSON problem document.
    sends = [
        client.post("/check/submit", json=builders.intake_body(), headers={"X-CSRF-Token": csrf}) for _ in range(4)
    ]
    assert [r.status_code for r in sends] == [202, 202, 202, 429]
    assert sends[-1].json["status"] == 429 and sends[-1].headers["Retry-After"] == "10"
    # The API with the same checker's token is out of budget too.
    assert _submit(client, checks.tokens[0], address="127.0.0.1").status_code == 429
    # The no-JavaScript send: a page in plain words, and the draft is still there to send later.
    start = client.post("/check/start", data={"csrf_token": csrf})
    draft_id = start.headers["Location"].split("/")[2]
    page = client.post(f"/check/{draft_id}/send", data={"csrf_token": csrf})
    assert page.status_code == 429 and page.headers["Retry-After"] == "10"
    text = page.get_data(as_text=True)
    assert "Please wait a moment" in text and "Your answers are kept." in text
    checks.extensions[rate_limited.EXTENSION].clock = lambda: NOW + 10
    sent = client.post(f"/check/{draft_id}/send", data={"csrf_token": csrf})
    assert sent.status_code == 303 and sent.headers["Location"].endswith("/sent")


def test_the_forms_saves_are_limited_per_phone_and_keep_what_was_saved(settings, checks):
    app = _make_app(settings, rate_limit_form_saves_per_minute=3)
    try:
        client = app.test_client()
        assert client.get(f"/s/{checks.tokens[1]}").status_code == 303
        csrf = _csrf(client)
        start = client.post("/check/start", data={"csrf_token": csrf})
        draft_id = start.headers["Location"].split("/")[2]
        saves = [
            client.post(f"/check/{draft_id}/who", data={"csrf_token": csrf, "answered_by": "with_supporter"})
            for _ in range(3)
        ]
        assert [r.status_code for r in [start, *saves]] == [303, 303, 303, 429]
        text = saves[-1].get_data(as_text=True)
        assert "Please wait a moment" in text and "Your answers so far are kept." in text
        assert saves[-1].headers["Retry-After"] == "10"
        assert client.get(f"/check/{draft_id}/who").status_code == 200  # reading is never refused
        assert 'with_supporter" checked' in client.get(f"/check/{draft_id}/who").get_data(as_text=True)
    finally:
        app.extensions["qc.close"]()


def test_zero_turns_a_limit_off(settings, checks):
    app = _make_app(settings, rate_limit_submissions_per_minute=0, rate_limit_submissions_per_address_per_minute=0)
    try:
        client = app.test_client()
        assert {_submit(client, checks.tokens[0]).status_code for _ in range(8)} == {202}
    finally:
        app.extensions["qc.close"]()


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(settings, checks):
    wrong = {"username": "rm1", "password": "guess"}
    client = checks.test_client()
    # No trusted proxy: a made-up X-Forwarded-For does not buy a fresh budget.
    spoofed = [
        client.post("/api/v1/auth/token", json=wrong, headers={"X-Forwarded-For": f"192.0.2.{i}"}).status_code
        for i in range(3)
    ]
    assert spoofed == [401, 401, 429]
    proxied = _make_app(settings, trusted_proxy_hops=1)
    try:
        client = proxied.test_client()
        # Behind one proxy, the address the proxy saw is the one counted (and the proxy's own is not).
        for address in ("198.51.100.1", "198.51.100.2"):
            headers = {"X-Forwarded-For": f"203.0.113.9, {address}"}
            statuses = [client.post("/api/v1/auth/token", json=wrong, headers=headers).status_code for _ in range(3)]
            assert statuses == [401, 401, 429]
    finally:
        proxied.extensions["qc.close"]()


def _database_down(*args):
    raise ServerSelectionTimeoutError("database down")


def test_a_database_outage_does_not_turn_the_limiter_into_a_500(checks):
    checks.extensions[rate_limited.EXTENSION].hit = _database_down  # the shared counts; sends count in memory
    client = checks.test_client()
    assert _submit(client, checks.tokens[0]).status_code == 202
    assert client.post("/api/v1/auth/token", json={"username": "rm1", "password": "x"}).status_code == 401


def test_a_submission_id_is_not_a_key_of_its_own(checks):
    """Changing the body does not buy requests: the count is per token and address, never per content."""
    client = checks.test_client()
    c1 = checks.tokens[0]
    bodies = [builders.intake_body(submission_id=str(uuid.uuid4())) for _ in range(4)]
    statuses = [
        client.post(
            "/api/v1/submissions", json=b, headers={"Authorization": f"Bearer {c1}"}, environ_base={"REMOTE_ADDR": "a"}
        ).status_code
        for b in bodies
    ]
    assert statuses == [202, 202, 202, 429]
