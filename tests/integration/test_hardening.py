"""Smaller defences, each reproduced through its real entry point: sign-in, intake headers, webhooks."""

from __future__ import annotations

import http.server
import logging
import threading

import pytest
from argon2 import PasswordHasher

from qc.settings import TOPICS
from services.checks.stores.directory import Directory
from services.notify.delivery.webhooks import Hook, WebhooksError, load_hooks
from tests import builders
from tests.conftest import read_topic

pytestmark = pytest.mark.integration


def test_sign_ins_are_logged_and_an_old_password_hash_is_upgraded(checks_app, caplog):
    directory = Directory(checks_app.extensions["qc.checks"].db)
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("correct horse")
    directory.upsert(
        "person",
        {
            "_id": "RM1",
            "name": "R",
            "role": "regional_manager",
            "username": "rm1",
            "region_id": "R01",
            "active": True,
            "password_hash": weak,
        },
    )
    web = checks_app.test_client()
    with caplog.at_level(logging.INFO, logger="services.checks.web.passwords"):
        assert web.post("/api/v1/auth/token", json={"username": "nobody", "password": "guess"}).status_code == 401
        assert web.post("/api/v1/auth/token", json={"username": "rm1", "password": "wrong"}).status_code == 401
        assert web.post("/api/v1/auth/token", json={"username": "rm1", "password": "correct horse"}).status_code == 200
    said = [(r.getMessage(), r.username) for r in caplog.records]
    assert said == [
        ("manager sign-in refused", "nobody"),
        ("manager sign-in refused", "rm1"),
        ("manager signed in", "rm1"),
    ]
    assert not any("guess" in r.getMessage() or "correct horse" in str(r.__dict__) for r in caplog.records)
    upgraded = directory.person("RM1")["password_hash"]
    assert upgraded != weak and not PasswordHasher().check_needs_rehash(upgraded)
    assert web.post("/api/v1/auth/token", json={"username": "rm1", "password": "correct horse"}).status_code == 200


def test_a_clients_correlation_id_is_kept_only_when_short_and_plain(client, settings):  # noqa: F811
    long_one, plain = builders.intake_body(), builders.intake_body()
    for body, sent in ((long_one, "x" * 500), (plain, "phone-42:retry.1")):
        headers = {"Authorization": f"Bearer {client.token}", "X-Correlation-ID": sent}
        assert client.post("/api/v1/submissions", json=body, headers=headers).status_code == 202
    ids = {long_one["submission_id"], plain["submission_id"]}
    seen = read_topic(settings, TOPICS["received"], lambda evs: ids <= {e["data"]["submission_id"] for e in evs})
    by_id = {e["data"]["submission_id"]: e["correlationid"] for e in seen if e["data"]["submission_id"] in ids}
    assert by_id[plain["submission_id"]] == "phone-42:retry.1"
    assert len(by_id[long_one["submission_id"]]) == 36  # replaced by a fresh uuid


class _Redirect(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(307)
        self.send_header("Location", type(self).target)
        self.end_headers()

    def log_message(self, *args):
        pass


class _Catch(_Redirect):
    calls: list = []

    def do_POST(self):  # noqa: N802
        type(self).calls.append(self.path)
        self.send_response(204)
        self.end_headers()


def test_webhooks_need_https_and_never_follow_a_redirect(db, publisher, settings, tmp_path):
    for url in ("http://example.org/hook", "ftp://example.org/hook", "https:///nohost"):
        (tmp_path / "w.yaml").write_text(f"version: 1\nwebhooks:\n  - id: h\n    url: {url}\n")
        with pytest.raises(WebhooksError, match="https"):
            load_hooks(tmp_path / "w.yaml", {"h": "s"})
    (tmp_path / "w.yaml").write_text("version: 1\nwebhooks:\n  - id: h\n    url: https://case.example/hook\n")
    assert [h.url for h in load_hooks(tmp_path / "w.yaml", {"h": "s"})] == ["https://case.example/hook"]

    servers = [http.server.HTTPServer(("127.0.0.1", 0), kind) for kind in (_Redirect, _Catch)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    _Catch.calls = []
    _Redirect.target = f"http://127.0.0.1:{servers[1].server_port}/elsewhere"
    try:
        hook = Hook("h", f"http://127.0.0.1:{servers[0].server_port}/hook", "s3cret", (), ())
        builders.notify_handler(db, settings, publisher, hooks=[hook]).handle(builders.deliveries(builders.validated()))
        [delivery] = list(db["deliveries"].find({"channel": "webhook"}))
        assert delivery["status"] == "failed" and delivery["last_error"] == "HTTP 307"
        assert _Catch.calls == []  # the alert did not go where the redirect pointed
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
