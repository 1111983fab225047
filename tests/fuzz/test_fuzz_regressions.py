"""The 5xx the fuzzer found, pinned: each input here once got a 500 and must now get a 4xx or a safe redirect."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.integration.world import build_world, request

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(stack):
    w = build_world(stack.settings.replace(mongo_db=f"t_{uuid.uuid4().hex[:12]}"))
    yield w
    w.close()


@pytest.mark.parametrize(
    "path",
    [
        # Trends and the pages' next/previous links went past what datetime.date holds: OverflowError.
        "/api/v1/rollups/sites/S0001/trend?period=0001-W01",
        "/api/v1/rollups/org/trend?period=0001-01&count=60",
        "/api/v1/rollups/org?period=9999-W52",
        "/api/v1/rollups/org?period=0000-01",
        # str.isdigit() is true for "²", which int() refuses: ValueError.
        "/api/v1/rollups/org/trend?count=%C2%B2",
        "/api/v1/rollups/org/trend?count=%D9%A3",
        # Other scripts' digits and a trailing newline used to pass as a period.
        "/api/v1/rollups/org?period=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-11",
        "/api/v1/rollups/org?period=2026-11%0A",
    ],
)
def test_odd_periods_and_counts_are_a_400(world, path):
    response = request(world, "aggregate", "GET", path, ("bearer", "admin"))
    assert response.status_code == 400 and response.content_type == "application/problem+json"


@pytest.mark.parametrize("path", ["/manager/org?period=9999-W52", "/manager/sites/S0001?period=0001-W01"])
def test_odd_periods_on_the_pages_are_a_400(world, path):
    assert request(world, "aggregate", "GET", path, ("session", "admin")).status_code == 400


@pytest.mark.parametrize("target", ["http://[::1", "{ours}/manager\r\nSet-Cookie: x=1", "{ours}/\x00", "\x00"])
def test_a_broken_next_after_sign_in_goes_home(world, target):
    client = world.apps["checks"].test_client()
    page = client.get("/manager/sign-in").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    target = target.format(ours=world.settings.aggregate_public_url)
    form = {"csrf_token": csrf, "username": "admin", "password": "admin password", "next": target}
    response = client.post("/manager/sign-in", data=form)
    assert response.status_code == 303
    assert response.headers["Location"] == f"{world.settings.notify_public_url}/manager/today"  # the home
