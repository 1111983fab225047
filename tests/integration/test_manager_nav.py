"""One navigation on the managers' pages of all three services: the same links everywhere, the page it is on
marked, so a manager moves between the overview, the alerts, the boards and their checkers without knowing which
service serves which page."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.integration.world import build_world, request

pytestmark = pytest.mark.integration

# (service, page, the link it marks as current)
PAGES = [
    ("notify", "/manager/today", "Today"),
    ("aggregate", "/manager/regions/R01", "Overview"),
    ("notify", "/manager/alerts", "Alerts"),
    ("notify", "/manager/actions", "Actions"),
    ("notify", "/manager/boards", "You said, we did"),
    ("notify", "/sites/S0001/board", "You said, we did"),
    ("checks", "/manager/checkers", "Checkers"),
    ("checks", "/manager/checkers/C1/links", "Checkers"),
]


@pytest.fixture(scope="module")
def world(stack):
    w = build_world(stack.settings.replace(mongo_db=f"t_{uuid.uuid4().hex[:12]}"))
    yield w
    w.close()


def _nav(page: str) -> list[tuple[str, str, bool]]:
    [nav] = re.findall(r'<nav aria-label="Managers"[^>]*>(.*?)</nav>', page, re.S)
    return [
        (label, href, "aria-current" in attrs)
        for href, attrs, label in re.findall(r'<a href="([^"]+)"([^>]*)>([^<]+)</a>', nav)
    ]


@pytest.mark.parametrize(("service", "path", "current"), PAGES, ids=[f"{s}{p}" for s, p, _ in PAGES])
def test_every_manager_page_has_the_same_navigation_with_its_own_place_marked(world, service, path, current):
    response = request(world, service, "GET", path, ("session", "rm1"))
    assert response.status_code == 200, (path, response.status_code)
    links = _nav(response.get_data(as_text=True))
    settings = world.settings
    assert [(label, href) for label, href, _ in links] == [
        ("Today", f"{settings.notify_public_url}/manager/today"),
        ("Overview", f"{settings.aggregate_public_url}/manager"),
        ("Alerts", f"{settings.notify_public_url}/manager/alerts"),
        ("Actions", f"{settings.notify_public_url}/manager/actions"),
        ("You said, we did", f"{settings.notify_public_url}/manager/boards"),
        ("Checkers", f"{settings.checks_public_url}/manager/checkers"),
        ("Sign out", f"{settings.checks_public_url}/manager/sign-out"),
    ]
    assert [label for label, _, marked in links if marked] == [current]
