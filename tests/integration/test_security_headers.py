"""Behind the proxy and on every manager page: Secure cookies, HSTS, no caching, no framing, a strict CSP."""

from __future__ import annotations

import dataclasses

import pytest

from qc import auth, web
from services.aggregate.bootstrap import create_app as create_aggregate
from services.checks.bootstrap import create_app as create_checks
from services.notify.bootstrap import create_app as create_notify

pytestmark = pytest.mark.integration
PAGES = {"checks": "/manager/checkers", "aggregate": "/manager/regions/R01", "notify": "/manager/alerts"}
APIS = {"checks": None, "aggregate": "/api/v1/rollups/regions/R01?period=2026-11", "notify": "/api/v1/alerts"}
FACTORIES = {"checks": create_checks, "aggregate": create_aggregate, "notify": create_notify}


@pytest.mark.parametrize("service", sorted(PAGES))
def test_manager_pages_and_the_api_are_never_cached_framed_or_passed_on(settings, service):
    app = FACTORIES[service](dataclasses.asdict(settings))
    try:
        token = auth.issue_manager_token(settings.secret_key, auth.Principal("rm1", "regional_manager", "R01"))
        client = app.test_client()
        client.set_cookie(web.MANAGER_COOKIE, token)
        page = client.get(PAGES[service])
        assert page.status_code == 200, page.status_code
        csp = page.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "object-src 'none'" in csp
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert page.headers["X-Frame-Options"] == "DENY"
        assert "Strict-Transport-Security" not in page.headers  # plain http here: HSTS only over https
        if APIS[service]:
            api = app.test_client().get(APIS[service], headers={"Authorization": f"Bearer {token}"})
            assert api.status_code == 200 and api.headers["Cache-Control"] == "no-store"
    finally:
        app.extensions["qc.close"]()


def test_behind_the_proxy_cookies_are_secure_and_hsts_is_sent(settings, checks_app):
    behind = create_checks({**dataclasses.asdict(settings), "trusted_proxy_hops": 1})
    try:
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Host": "qc.example"}
        signed_in = behind.test_client().get(f"/s/{checks_app.token}", headers=forwarded)
        assert signed_in.status_code == 303
        assert "Secure" in signed_in.headers["Set-Cookie"] and "HttpOnly" in signed_in.headers["Set-Cookie"]
        assert signed_in.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    finally:
        behind.extensions["qc.close"]()
    # With no proxy trusted, a client's own X-Forwarded-Proto changes nothing.
    direct = checks_app.test_client().get(f"/s/{checks_app.token}", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in direct.headers["Set-Cookie"] and "Strict-Transport-Security" not in direct.headers
