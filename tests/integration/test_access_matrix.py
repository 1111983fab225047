"""Who may call what: every route of every service, with no credentials, the wrong role and the wrong region.

The routes are read from each app's ``url_map``; a route missing from ROUTES
(tests/scenarios/routes.py) fails ``test_every_route_is_in_the_matrix``, so a new route cannot ship
without saying who may use it. Public routes are listed by name in PUBLIC.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from qc import events
from tests.integration.world import ANONYMOUS, Cred, request
from tests.scenarios.routes import JSON, PUBLIC, PUBLIC_PATHS, ROUTES, Case, fill, fresh_report

pytestmark = pytest.mark.integration


def _refusal(case: Case, method: str, cred: Cred):
    """What the wrong role must get: 401 when the credential is of the wrong kind altogether, else 403/404."""
    checker_cred = cred[0] in ("checker", "phone")
    if case.owner[0] in ("checker", "phone") and not checker_cred:
        return (401,)  # a manager is not signed in as a checker
    if case.kind == "page" and (checker_cred or (cred[0] == "bearer" and method == "POST")):
        return "sign-in"  # a page wants a manager's session (and a form its CSRF token)
    if checker_cred or (cred[0] == "session" and method != "GET" and case.kind != "page"):
        return (401,)  # not a manager; or a cookie, which never authorises a change through the API
    return (403, 404)


def _routes(app) -> set[tuple[str, str]]:
    return {(r.rule, m) for r in app.url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}}


@pytest.mark.parametrize("service", ["checks", "aggregate", "notify"])
def test_every_route_is_in_the_matrix(world, service):
    routes = {(service, rule, m) for rule, m in _routes(world.apps[service])}
    known = set(ROUTES) | PUBLIC
    assert not routes - known, f"routes with no access rule in this test: {sorted(routes - known)}"
    assert not {k for k in known if k[0] == service} - routes, "rules for routes that no longer exist"


@pytest.mark.parametrize("key", sorted(PUBLIC), ids=" ".join)
def test_public_routes_answer_without_credentials(world, key):
    service, rule, method = key
    path = PUBLIC_PATHS.get(rule, rule)
    response = request(world, service, method, path, ANONYMOUS, body=JSON if rule.startswith("/api/") else None)
    assert response.status_code not in (401, 403) and response.status_code < 500, response.status_code


@pytest.mark.parametrize("key", sorted(ROUTES), ids=" ".join)
def test_each_route_refuses_the_anonymous_the_wrong_role_and_the_wrong_region(world, key):
    service, _rule, method = key
    case = ROUTES[key]

    def call(cred):
        return request(world, service, method, fill(world, case.path), cred, case.body)

    anonymous = call(ANONYMOUS)
    if case.kind == "page":
        assert anonymous.status_code == 303 and "/manager/sign-in" in anonymous.headers["Location"]
    else:
        assert anonymous.status_code == 401, anonymous.get_data(as_text=True)[:200]
        if case.kind == "api":
            assert anonymous.content_type == "application/problem+json"
    for cred in case.wrong_role:
        response = call(cred)
        expected = _refusal(case, method, cred)
        if expected == "sign-in":
            assert response.status_code == 303 and "/manager/sign-in" in response.headers["Location"], cred
        else:
            assert response.status_code in expected, f"{cred} got {response.status_code}"
    for cred in case.wrong_region:
        response = call(cred)
        assert response.status_code in (403, 404), f"{cred} got {response.status_code}"
    owner = call(case.owner)
    assert owner.status_code in case.ok, f"{case.owner} got {owner.status_code}: {owner.get_data(as_text=True)[:300]}"
    if case.hidden is not None:
        secret = case.hidden(world)
        assert secret in owner.get_data(as_text=True)
        other = ("session", "rm2") if case.kind == "page" else ("phone", "C2") if case.kind == "checker" else None
        other = other or ("bearer", "rm2")
        response = call(other)
        assert response.status_code == 200 and secret not in response.get_data(as_text=True)


# Routes of notify that are not about alerts, worries or what is done about them: the boards are public.
# (A worry on a board shows no words: board.py.)
NOT_ABOUT_ALERTS = {
    ("notify", "/manager/boards", "GET"),
    ("notify", "/sites/<site_id>/board", "GET"),
    ("notify", "/sites/<site_id>/board/print", "GET"),
}


@pytest.mark.parametrize(
    "key",
    sorted(k for k in ROUTES if k[0] == "notify" and ROUTES[k].kind in ("api", "page") and k not in NOT_ABOUT_ALERTS),
    ids=" ".join,
)
def test_the_involvement_lead_reads_no_alert_worry_silence_or_action(world, key):
    """The involvement lead is organisation-wide for the checkers programme, but no alert (a worry's words among
    them) reaches them: every one of notify's manager routes refuses them, or sends them home to their checkers."""
    _service, _rule, method = key
    case = ROUTES[key]
    cred = ("session", "inv") if case.kind == "page" else ("bearer", "inv")
    response = request(world, "notify", method, fill(world, case.path), cred, case.body)
    if key == ("notify", "/manager/today", "GET"):
        assert response.status_code == 303 and response.headers["Location"].endswith("/manager/checkers")
    else:
        assert response.status_code in (403, 404), response.status_code
        assert world.db["alerts"].find_one({"_id": world.alert_id})["status"] == "open"


@pytest.mark.parametrize(
    "service,path",
    [
        ("checks", "/manager/checkers"),
        ("checks", "/manager/checkers?region_id=R02"),
        ("checks", "/manager/checkers/C1/contributions"),
        ("checks", "/manager/checkers/new?region_id=R01"),
        ("aggregate", "/manager/org"),
        ("aggregate", "/manager/regions/R02"),
        ("notify", "/manager/boards"),
    ],
)
def test_the_involvement_lead_manages_checkers_everywhere_without_the_alert_links(world, service, path):
    response = request(world, service, "GET", path, ("session", "inv"))
    assert response.status_code == 200, response.status_code
    page = response.get_data(as_text=True)
    nav = re.search(r"<nav aria-label=\"Managers\".*?</nav>", page, re.S).group(0)
    assert "Checkers" in nav and "/manager/alerts" not in nav and "/manager/today" not in nav
    assert "/manager/actions" not in nav
    if path.endswith("region_id=R02"):  # organisation-wide: a region is chosen first, then its checkers
        assert "/manager/checkers/C2/contributions" in page


def test_the_involvement_lead_reads_the_right_of_reply_but_neither_prepares_nor_publishes_it(world):
    """The right of reply is between a region's manager and its site managers: the involvement lead reads it."""
    replied = fresh_report(world, replied=True)
    reports = request(world, "aggregate", "GET", "/manager/regions/R01/reports", ("session", "inv"))
    assert reports.status_code == 200 and f'data-period="{replied}"' in reports.get_data(as_text=True)
    assert "Prepare the draft" not in reports.get_data(as_text=True)
    page = request(world, "aggregate", "GET", f"/manager/regions/R01/reports/{replied}", ("session", "inv"))
    assert page.status_code == 200 and "Publish this report" not in page.get_data(as_text=True)
    publish = f"/manager/regions/R01/reports/{replied}/publish"
    assert request(world, "aggregate", "POST", publish, ("session", "inv")).status_code == 403
    prepare = request(
        world, "aggregate", "POST", "/manager/regions/R01/reports", ("session", "inv"), {"period": "2099-01"}
    )
    assert prepare.status_code == 403
    right = world.apps["aggregate"].extensions["qc.aggregate"].right_of_reply
    assert right.get("R01", replied)["status"] == "draft" and right.get("R01", "2099-01") is None
    # The regional manager still does both.
    page = request(world, "aggregate", "GET", f"/manager/regions/R01/reports/{replied}", ("session", "rm1"))
    assert "Publish this report" in page.get_data(as_text=True)
    assert request(world, "aggregate", "POST", publish, ("session", "rm1")).status_code == 303
    assert right.get("R01", replied)["status"] == "published"


def test_a_silence_made_by_another_regions_manager_stays_in_their_region(world):
    body = {
        **JSON,
        "matchers": {"region_id": "R01", "rule": "low_score"},
        "ends_at": events.isoformat(events.now() + dt.timedelta(days=2)),
        "reason": "testing",
    }
    made = request(world, "notify", "POST", "/api/v1/silences", ("bearer", "rm2"), body)
    assert made.status_code == 201 and made.json["matchers"]["region_id"] == "R02"
    made = request(world, "notify", "POST", "/api/v1/silences", ("bearer", "sm2"), body)
    assert made.status_code == 201 and made.json["matchers"]["site_id"] == "S0002"
