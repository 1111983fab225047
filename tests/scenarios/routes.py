"""Every route of every service and who may use it: the access matrix's table, also read by the endpoint fuzzer.

A new route goes here (``ROUTES``, or ``PUBLIC`` when anyone may call it); tests/integration/test_access_matrix.py
fails until it does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from collections.abc import Callable

from qc import events
from services.checks.stores.directory import Directory
from services.notify.stores.actions import About, Actions
from tests import builders
from tests.integration.world import Cred, World

# --- who is asking --------------------------------------------------------------------------------


# --- the matrix -----------------------------------------------------------------------------------

# Deliberately public: anyone may call these without signing in. A new public route must be added here.
PUBLIC = {
    ("checks", "/", "GET"),
    ("checks", "/s/<token>", "GET"),
    ("checks", "/s/<token>", "POST"),  # "yes, sign in as …" after the phone said whose link it is
    ("checks", "/api/v1/question-sets/current", "GET"),
    ("checks", "/api/v1/auth/token", "POST"),
    ("checks", "/manager/sign-in", "GET"),
    ("checks", "/manager/sign-in", "POST"),
    ("checks", "/manager/sign-out", "GET"),
    *(
        (s, path, "GET")
        for s in ("checks", "aggregate", "notify")
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json")  # the API's description, no data
    ),
    *((s, "/static/<path:filename>", "GET") for s in ("checks", "aggregate", "notify")),
    ("checks", "/audio/<name>", "GET"),  # recordings of the questions, like the static files
    # A site's own link for the key questions: anyone supported there, no sign-in (the link is the key).
    ("checks", "/v/<token>", "GET"),
    ("checks", "/v/<token>", "POST"),
    ("checks", "/v/<token>/thanks", "GET"),
}
PUBLIC_PATHS = {
    "/s/<token>": "/s/not-a-real-token",
    "/static/<path:filename>": "/static/checks.css",
    "/audio/<name>": "/audio/0123456789abcdef0123.wav",  # none by that name: 404, not 401
    "/v/<token>": "/v/not-a-real-token",
    "/v/<token>/thanks": "/v/not-a-real-token/thanks",
}


@dataclasses.dataclass(frozen=True)
class Case:
    """How to call one route, who owns what it is about, and who must be turned away.

    ``kind`` is what turns the anonymous away: "api" (401 problem), "page"
    (303 to the manager sign-in), "checker" (401: open your link first).
    ``owner`` must get ``ok``; each of ``wrong_role`` and ``wrong_region`` must
    be refused. ``hidden`` is for lists: they answer 200 but must not contain
    what belongs to another region.
    """

    path: str  # {alert_id} etc.: the world's ids; {fresh_alert} etc.: a new one for each call (see fill)
    kind: str
    owner: Cred
    ok: tuple[int, ...] = (200,)
    wrong_role: tuple[Cred, ...] = ()
    wrong_region: tuple[Cred, ...] = ()
    hidden: Callable[[World], str] | None = None
    body: dict | None = None


FRESH = {
    "fresh_alert": World.fresh_alert,
    "fresh_silence": World.fresh_silence,
    "fresh_draft": World.fresh_draft,
    "fresh_rejected": World.fresh_rejected,
}
_REPORT_YEARS = iter(range(2100, 2999))


def fresh_report(world: World, replied: bool = False) -> str:
    """A new draft report of region R01 for a period of its own (with S0001's reply if ``replied``): the period."""
    right = world.apps["aggregate"].extensions["qc.aggregate"].right_of_reply
    period = f"{next(_REPORT_YEARS)}-Q1"
    right.prepare("R01", period, "rm1")
    if replied:  # R01's only site has replied: the report may be published before its deadline
        right.reply("R01", period, "S0001", "All fine.", "sm1")
    setattr(world, "replied_report_id" if replied else "report_id", period)  # what fill(fresh=False) reuses
    return period


def _fresh_checker(world: World) -> str:
    """A new active checker at S0001 (R01), for a request that stops one."""
    checker_id = f"C-{uuid.uuid4().hex[:10]}"
    Directory(world.db).upsert("person", {"_id": checker_id, "name": "New", "role": "checker", "site_id": "S0001"})
    world.checker_id = checker_id  # what fill(fresh=False) reuses
    return checker_id


def _fresh_action(world: World) -> str:
    """A new open action at S0001 (R01), for a request that moves one on."""
    site = {"_id": "S0001", "region_id": "R01"}
    fields = {"what": "Fix the lift", "owner": "Estates", "due_on": "2999-01-01"}
    action = Actions(world.db).add(site, About("question", "respect"), None, fields, "rm1")
    world.action_id = action["_id"]
    return action["_id"]


FRESH["fresh_action"] = _fresh_action
FRESH["fresh_checker"] = _fresh_checker
FRESH["fresh_report"] = fresh_report
FRESH["fresh_replied_report"] = lambda world: fresh_report(world, replied=True)


def fill(world: World, template: str, *, fresh: bool = True) -> str:
    """A case's path with this world's ids; ``{fresh_…}`` makes a new alert, silence or draft unless not ``fresh``."""

    def value(match):
        name = match.group(1)
        if name in FRESH:
            kept = getattr(world, name.replace("fresh_", "") + "_id", None)  # reports: none until the first is made
            return FRESH[name](world) if fresh or not kept else kept
        return getattr(world, name)

    return re.sub(r"\{(\w+)\}", value, template)


# Managers' wrong role on every manager route includes a checker's credentials (not a manager at all);
# checkers' wrong role is a manager's. Where a route is about one site or region, the managers of the
# other region (or another site) are its wrong region.
OTHER_REGION_API = (("bearer", "rm2"), ("bearer", "sm2"))
OTHER_REGION_PAGE = (("session", "rm2"), ("session", "sm2"))
NOT_A_MANAGER_API = (("checker", "C1"),)
NOT_A_MANAGER_PAGE = (("phone", "C1"),)
NOT_A_CHECKER = (("bearer", "rm1"), ("session", "rm1"), ("bearer", "admin"))
OTHER_CHECKER = (("phone", "C2"),)
JSON = {"__json__": True}

ROUTES: dict[tuple[str, str, str], Case] = {
    # checks: the checker's API
    ("checks", "/api/v1/submissions", "POST"): Case(
        "/api/v1/submissions",
        "api",
        ("checker", "C1"),
        ok=(202,),
        wrong_role=NOT_A_CHECKER,
        wrong_region=(("checker", "C2"),),  # C2 sending for S0001: 403
        body={**JSON, **builders.intake_body(site_id="S0001")},
    ),
    ("checks", "/api/v1/submissions/<submission_id>", "GET"): Case(
        "/api/v1/submissions/{submission_id}",
        "api",
        ("checker", "C1"),
        wrong_role=(),
        wrong_region=(("checker", "C2"), *OTHER_REGION_API),
    ),
    # checks: the checker's pages (anonymous and managers get 401 "open your link"; another checker gets 404)
    ("checks", "/check/<draft_id>/<name>", "GET"): Case(
        "/check/{draft_id}/q-listened-to",
        "checker",
        ("phone", "C1"),
        wrong_role=NOT_A_CHECKER,
        wrong_region=OTHER_CHECKER,
    ),
    ("checks", "/check/<draft_id>/<name>", "POST"): Case(
        "/check/{draft_id}/q-listened-to",
        "checker",
        ("phone", "C1"),
        ok=(303,),
        wrong_role=NOT_A_CHECKER,
        wrong_region=OTHER_CHECKER,
        body={"score-listened-to": "3"},
    ),
    ("checks", "/check/<draft_id>/send", "POST"): Case(
        "/check/{fresh_draft}/send",
        "checker",
        ("phone", "C1"),
        ok=(303,),
        wrong_role=NOT_A_CHECKER,
        wrong_region=OTHER_CHECKER,
    ),
    ("checks", "/check/<draft_id>/sent", "GET"): Case(
        "/check/{draft_id}/sent",
        "checker",
        ("phone", "C1"),
        ok=(303,),  # not sent yet: back to check your answers
        wrong_role=NOT_A_CHECKER,
        wrong_region=OTHER_CHECKER,
    ),
    ("checks", "/check/<draft_id>/worried", "GET"): Case(
        "/check/{draft_id}/worried",
        "checker",
        ("phone", "C1"),
        wrong_role=NOT_A_CHECKER,
        wrong_region=OTHER_CHECKER,
    ),
    ("checks", "/check/<draft_id>/worried", "POST"): Case(
        "/check/{draft_id}/worried",
        "checker",
        ("phone", "C1"),
        ok=(303,),
        wrong_role=NOT_A_CHECKER,
        wrong_region=OTHER_CHECKER,
        body={"action": "keep", "concern": "the stairs"},
    ),
    ("checks", "/check/<draft_id>/your-name", "GET"): Case(
        "/check/{draft_id}/your-name?from=q-listened-to",
        "checker",
        ("phone", "C1"),
        wrong_role=NOT_A_CHECKER,
        wrong_region=OTHER_CHECKER,
    ),
    ("checks", "/check/<draft_id>/your-name", "POST"): Case(
        "/check/{draft_id}/your-name?from=q-listened-to",
        "checker",
        ("phone", "C1"),
        ok=(303,),
        wrong_role=NOT_A_CHECKER,
        wrong_region=OTHER_CHECKER,
        body={"share": "named"},
    ),
    ("checks", "/my-checks/<submission_id>/send-again", "POST"): Case(
        "/my-checks/{fresh_rejected}/send-again",
        "checker",
        ("phone", "C1"),
        ok=(303,),
        wrong_role=NOT_A_CHECKER,
        wrong_region=OTHER_CHECKER,  # another checker's check is not found (404)
    ),
    # Self-scoped checker pages: only ever about the signed-in checker, so another checker sees their own.
    ("checks", "/check/app", "GET"): Case("/check/app", "checker", ("phone", "C1"), wrong_role=NOT_A_CHECKER),
    ("checks", "/check/start", "POST"): Case(
        "/check/start", "checker", ("phone", "C1"), ok=(303,), wrong_role=NOT_A_CHECKER
    ),
    ("checks", "/check/submit", "POST"): Case(
        "/check/submit",
        "checker",
        ("phone", "C1"),
        ok=(202,),
        wrong_role=NOT_A_CHECKER,
        wrong_region=(("phone", "C2"),),  # C2 sending for S0001: 403
        body={**JSON, **builders.intake_body(site_id="S0001")},
    ),
    ("checks", "/how-i-like-it", "GET"): Case("/how-i-like-it", "checker", ("phone", "C1"), wrong_role=NOT_A_CHECKER),
    ("checks", "/stop-my-link", "GET"): Case("/stop-my-link", "checker", ("phone", "C1"), wrong_role=NOT_A_CHECKER),
    ("checks", "/how-i-like-it", "POST"): Case(
        "/how-i-like-it",
        "checker",
        ("phone", "C1"),
        ok=(303,),
        wrong_role=NOT_A_CHECKER,
        body={"per_screen": "one", "text_size": "large", "pictures": "symbols", "read_aloud": "off"},
    ),
    ("checks", "/my-checks", "GET"): Case(
        "/my-checks",
        "checker",
        ("phone", "C1"),
        wrong_role=NOT_A_CHECKER,
        hidden=lambda w: w.submission_id,
    ),
    ("checks", "/worried", "GET"): Case("/worried", "checker", ("phone", "C1"), ok=(303,), wrong_role=NOT_A_CHECKER),
    ("checks", "/worry-sent", "GET"): Case("/worry-sent", "checker", ("phone", "C1"), wrong_role=NOT_A_CHECKER),
    ("checks", "/check/<draft_id>/worry-sent", "GET"): Case(
        "/check/{draft_id}/worry-sent",
        "checker",
        ("phone", "C1"),
        wrong_role=NOT_A_CHECKER,
        wrong_region=OTHER_CHECKER,
    ),
    ("checks", "/worried", "POST"): Case(
        "/worried",
        "checker",
        ("phone", "C1"),
        ok=(303,),
        wrong_role=NOT_A_CHECKER,
        body={"action": "keep", "concern": "the stairs"},
    ),
    ("checks", "/my-checks/<submission_id>/alerts/<alert_id>/better", "POST"): Case(
        "/my-checks/{submission_id}/alerts/{alert_id}/better",
        "checker",
        ("phone", "C1"),
        ok=(303,),
        wrong_role=NOT_A_CHECKER,
        wrong_region=OTHER_CHECKER,
        body={"answer": "better"},
    ),
    ("checks", "/my-checks/<submission_id>/actions/<action_id>/better", "POST"): Case(
        "/my-checks/{submission_id}/actions/ACT1/better",
        "checker",
        ("phone", "C1"),
        ok=(303,),
        wrong_role=NOT_A_CHECKER,
        wrong_region=OTHER_CHECKER,
        body={"answer": "better"},
    ),
    ("checks", "/sign-out", "POST"): Case("/sign-out", "checker", ("phone", "C1"), wrong_role=NOT_A_CHECKER),
    # checks: recognition (My contribution is self-scoped; managers record time and training for their checkers)
    ("checks", "/my-contribution", "GET"): Case(
        "/my-contribution", "checker", ("phone", "C1"), wrong_role=NOT_A_CHECKER
    ),
    ("checks", "/my-contribution/print", "GET"): Case(
        "/my-contribution/print", "checker", ("phone", "C1"), wrong_role=NOT_A_CHECKER
    ),
    # checks: how often each service is checked (regional managers for their region; org-wide roles any)
    ("checks", "/manager/schedule", "GET"): Case(
        "/manager/schedule?region_id=R01",
        "page",
        ("session", "rm1"),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("session", "sm1")),
        wrong_region=(("session", "rm2"),),
    ),
    ("checks", "/manager/schedule", "POST"): Case(
        "/manager/schedule",
        "page",
        ("session", "rm1"),
        ok=(303,),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("bearer", "rm1")),  # a site manager's session: the GET above
        wrong_region=(("session", "rm2"),),
        body={"region_id": "R01", "region": "month"},
    ),
    # checks: the involvement report (regional managers their region; organisation-wide roles any, or all)
    ("checks", "/manager/involvement", "GET"): Case(
        "/manager/involvement?region_id=R01",
        "page",
        ("session", "rm1"),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("session", "sm1")),
        wrong_region=(("session", "rm2"),),
    ),
    # checks: the questions, made with checkers (the involvement lead and the organisation administrator only)
    **{
        ("checks", path, method): Case(
            path,
            "page",
            ("session", "inv"),
            ok=ok,
            wrong_role=(*NOT_A_MANAGER_PAGE, ("session", "rm1"), ("session", "sm1"), ("session", "sg"))
            + ((("bearer", "inv"),) if method == "POST" else ()),
            body=body,
        )
        for path, method, ok, body in (
            ("/manager/questions", "GET", (200,), None),
            ("/manager/questions/new", "POST", (303, 409), None),  # 409: a draft is there already
            ("/manager/questions/draft", "GET", (200, 303), None),  # 303: no draft (to the overview)
            ("/manager/questions/draft", "POST", (303, 400), {"written_with": "Sam"}),
            ("/manager/questions/draft/reviewers", "GET", (200, 303), None),
            ("/manager/questions/draft/reviewers", "POST", (400, 303), {"region_id": "R01"}),  # none ticked
            ("/manager/questions/draft/pilot", "GET", (200, 303), None),
            ("/manager/questions/draft/pilot", "POST", (400, 303), {"region_id": "R01"}),
            ("/manager/questions/draft/publish", "GET", (303,), None),  # not piloted: back to the overview
            ("/manager/questions/draft/publish", "POST", (303,), None),
            ("/manager/questions/draft/stop", "POST", (303,), None),
        )
    },
    # checks: a checker asked to review the draft questions (404 when nothing waits for them)
    ("checks", "/questions/review", "GET"): Case(
        "/questions/review", "checker", ("phone", "C1"), ok=(200, 404), wrong_role=NOT_A_CHECKER
    ),
    ("checks", "/questions/review", "POST"): Case(
        "/questions/review", "checker", ("phone", "C1"), ok=(404, 400, 303), wrong_role=NOT_A_CHECKER, body={}
    ),
    ("checks", "/questions/review/thanks", "GET"): Case(
        "/questions/review/thanks", "checker", ("phone", "C1"), wrong_role=NOT_A_CHECKER
    ),
    # checks: a site's own link for the key questions (its managers, the region's, the organisation-wide roles)
    ("checks", "/manager/sites/<site_id>/voice-link", "GET"): Case(
        "/manager/sites/S0001/voice-link",
        "page",
        ("session", "sm1"),
        wrong_role=NOT_A_MANAGER_PAGE,
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("checks", "/manager/sites/<site_id>/voice-link/new", "POST"): Case(
        "/manager/sites/S0001/voice-link/new",
        "page",
        ("session", "rm1"),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("bearer", "rm1")),
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("checks", "/manager/sites/<site_id>/voice-link/stop", "POST"): Case(
        "/manager/sites/S0001/voice-link/stop",
        "page",
        ("session", "sm1"),
        ok=(303,),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("bearer", "sm1")),
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("checks", "/manager/checkers", "GET"): Case(
        "/manager/checkers",
        "page",
        ("session", "rm1"),
        wrong_role=NOT_A_MANAGER_PAGE,
        hidden=lambda w: "/manager/checkers/C1/contributions",
    ),
    ("checks", "/manager/checkers/<checker_id>/contributions", "GET"): Case(
        "/manager/checkers/C1/contributions",
        "page",
        ("session", "rm1"),
        wrong_role=NOT_A_MANAGER_PAGE,
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("checks", "/manager/checkers/<checker_id>/contributions", "POST"): Case(
        "/manager/checkers/C1/contributions",
        "page",
        ("session", "sm1"),
        ok=(303,),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("bearer", "sm1")),  # a page form needs the session and its CSRF token
        wrong_region=OTHER_REGION_PAGE,
        body={"date": "2026-11-01", "kind": "training", "hours": "2", "title": "Safeguarding awareness course"},
    ),
    ("checks", "/manager/checkers/<checker_id>/contributions/<entry_id>/remove", "POST"): Case(
        "/manager/checkers/C1/contributions/no-such-entry/remove",
        "page",
        ("session", "sm1"),
        ok=(303,),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("bearer", "sm1")),
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("checks", "/manager/checkers/new", "GET"): Case(
        "/manager/checkers/new", "page", ("session", "sm1"), wrong_role=NOT_A_MANAGER_PAGE
    ),
    ("checks", "/manager/checkers/new", "POST"): Case(
        "/manager/checkers/new",
        "page",
        ("session", "sm1"),
        ok=(303,),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("bearer", "sm1")),
        wrong_region=OTHER_REGION_PAGE,  # S0001 is not one of their services
        body={"site_id": "S0001", "name": "New checker", "consent": "not_yet"},
    ),
    ("checks", "/manager/checkers/<checker_id>", "GET"): Case(
        "/manager/checkers/C1",
        "page",
        ("session", "sm1"),
        wrong_role=NOT_A_MANAGER_PAGE,
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("checks", "/manager/checkers/<checker_id>", "POST"): Case(
        "/manager/checkers/C3",
        "page",
        ("session", "rm1"),
        ok=(303,),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("bearer", "rm1")),
        wrong_region=OTHER_REGION_PAGE,
        body={"name": "C3", "consent": "not_yet"},
    ),
    ("checks", "/manager/checkers/<checker_id>/stop", "POST"): Case(
        "/manager/checkers/{fresh_checker}/stop",
        "page",
        ("session", "sm1"),
        ok=(303,),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("bearer", "sm1")),
        wrong_region=OTHER_REGION_PAGE,
        body={"reason": "Moved away"},
    ),
    ("checks", "/manager/checkers/<checker_id>/restart", "POST"): Case(
        "/manager/checkers/{fresh_checker}/restart",
        "page",
        ("session", "sm1"),
        ok=(303,),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("bearer", "sm1")),
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("checks", "/manager/checkers/<checker_id>/links", "GET"): Case(
        "/manager/checkers/C3/links",
        "page",
        ("session", "sm1"),
        wrong_role=NOT_A_MANAGER_PAGE,
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("checks", "/manager/checkers/<checker_id>/links/stop", "POST"): Case(
        "/manager/checkers/C3/links/stop",
        "page",
        ("session", "sm1"),
        ok=(303,),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("bearer", "sm1")),
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("checks", "/manager/checkers/<checker_id>/links/new", "POST"): Case(
        "/manager/checkers/C3/links/new",
        "page",
        ("session", "rm1"),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("bearer", "rm1")),
        wrong_region=OTHER_REGION_PAGE,
    ),
    # aggregate: the API
    ("aggregate", "/api/v1/rollups/sites/<site_id>", "GET"): Case(
        "/api/v1/rollups/sites/S0001",
        "api",
        ("bearer", "sm1"),
        wrong_role=NOT_A_MANAGER_API,
        wrong_region=OTHER_REGION_API,
    ),
    ("aggregate", "/api/v1/rollups/regions/<region_id>", "GET"): Case(
        "/api/v1/rollups/regions/R01",
        "api",
        ("bearer", "rm1"),
        wrong_role=(*NOT_A_MANAGER_API, ("bearer", "sm1")),
        wrong_region=OTHER_REGION_API,
    ),
    ("aggregate", "/api/v1/rollups/org", "GET"): Case(
        "/api/v1/rollups/org",
        "api",
        ("bearer", "admin"),
        wrong_role=(*NOT_A_MANAGER_API, ("bearer", "rm1"), ("bearer", "sm1")),
    ),
    ("aggregate", "/api/v1/rollups/<scope>/<entity_id>/trend", "GET"): Case(
        "/api/v1/rollups/regions/R01/trend",
        "api",
        ("bearer", "rm1"),
        wrong_role=(*NOT_A_MANAGER_API, ("bearer", "sm1")),
        wrong_region=OTHER_REGION_API,
    ),
    ("aggregate", "/api/v1/rollups/<scope>/trend", "GET"): Case(
        "/api/v1/rollups/org/trend",
        "api",
        ("bearer", "sg"),
        wrong_role=(*NOT_A_MANAGER_API, ("bearer", "rm1"), ("bearer", "sm1")),
    ),
    ("aggregate", "/api/v1/coverage", "GET"): Case(
        "/api/v1/coverage?region_id=R01",
        "api",
        ("bearer", "rm1"),
        wrong_role=(*NOT_A_MANAGER_API, ("bearer", "sm1")),
        wrong_region=OTHER_REGION_API,
    ),
    ("aggregate", "/api/v1/regions/<region_id>/overview", "GET"): Case(
        "/api/v1/regions/R01/overview",
        "api",
        ("bearer", "rm1"),
        wrong_role=(*NOT_A_MANAGER_API, ("bearer", "sm1")),
        wrong_region=OTHER_REGION_API,
    ),
    ("aggregate", "/api/v1/themes", "GET"): Case(
        "/api/v1/themes?region_id=R01",
        "api",
        ("bearer", "rm1"),
        wrong_role=(*NOT_A_MANAGER_API, ("bearer", "sm1")),
        wrong_region=OTHER_REGION_API,
    ),
    ("aggregate", "/api/v1/sites/<site_id>/comments", "GET"): Case(
        "/api/v1/sites/S0001/comments",
        "api",
        ("bearer", "sm1"),
        wrong_role=NOT_A_MANAGER_API,
        wrong_region=OTHER_REGION_API,
    ),
    ("aggregate", "/api/v1/sites/<site_id>/team-feedback", "GET"): Case(
        "/api/v1/sites/S0001/team-feedback",
        "api",
        ("bearer", "sm1"),
        wrong_role=NOT_A_MANAGER_API,
        wrong_region=OTHER_REGION_API,
    ),
    ("aggregate", "/api/v1/themes/<kind>/<theme_id>/submissions", "GET"): Case(
        "/api/v1/themes/working/food/submissions?region_id=R01",
        "api",
        ("bearer", "rm1"),
        wrong_role=(*NOT_A_MANAGER_API, ("bearer", "sm1")),
        wrong_region=OTHER_REGION_API,
    ),
    ("notify", "/manager/today", "GET"): Case(
        "/manager/today", "page", ("session", "rm1"), wrong_role=NOT_A_MANAGER_PAGE
    ),
    ("notify", "/manager/actions", "GET"): Case(
        "/manager/actions", "page", ("session", "rm1"), wrong_role=NOT_A_MANAGER_PAGE
    ),
    ("notify", "/manager/actions/new", "GET"): Case(
        "/manager/actions/new?site_id=S0001&about=question:respect",
        "page",
        ("session", "sm1"),
        wrong_role=NOT_A_MANAGER_PAGE,
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("notify", "/manager/actions/new", "POST"): Case(
        "/manager/actions/new",
        "page",
        ("session", "sm1"),
        ok=(303,),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("bearer", "sm1")),
        wrong_region=OTHER_REGION_PAGE,
        body={"site_id": "S0001", "about": "question:respect", "what": "Fix it", "owner": "Me", "due_on": "2999-01-01"},
    ),
    ("notify", "/manager/actions/<action_id>", "GET"): Case(
        "/manager/actions/{fresh_action}",
        "page",
        ("session", "sm1"),
        wrong_role=NOT_A_MANAGER_PAGE,
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("notify", "/manager/actions/<action_id>", "POST"): Case(
        "/manager/actions/{fresh_action}",
        "page",
        ("session", "rm1"),
        ok=(303,),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("bearer", "rm1")),
        wrong_region=OTHER_REGION_PAGE,
        body={"status": "in_progress"},
    ),
    # aggregate: the pages
    ("aggregate", "/manager", "GET"): Case(
        "/manager", "page", ("session", "rm1"), ok=(302,), wrong_role=NOT_A_MANAGER_PAGE
    ),
    ("aggregate", "/manager/org", "GET"): Case(
        "/manager/org",
        "page",
        ("session", "admin"),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("session", "rm1"), ("session", "sm1")),
    ),
    ("aggregate", "/manager/regions/<region_id>", "GET"): Case(
        "/manager/regions/R01",
        "page",
        ("session", "rm1"),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("session", "sm1")),
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("aggregate", "/manager/sites/<site_id>", "GET"): Case(
        "/manager/sites/S0001",
        "page",
        ("session", "sm1"),
        wrong_role=NOT_A_MANAGER_PAGE,
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("aggregate", "/manager/sites/<site_id>/team-feedback", "GET"): Case(
        "/manager/sites/S0001/team-feedback",
        "page",
        ("session", "sm1"),
        wrong_role=NOT_A_MANAGER_PAGE,
        wrong_region=OTHER_REGION_PAGE,
    ),
    # aggregate: a region's reports and the site managers' right of reply. Page forms sent with a session
    # other than the owner's role are refused 403, so they are listed with the wrong region.
    ("aggregate", "/api/v1/regions/<region_id>/reports", "GET"): Case(
        "/api/v1/regions/R01/reports",
        "api",
        ("bearer", "rm1"),
        wrong_role=(*NOT_A_MANAGER_API, ("bearer", "sm1")),
        wrong_region=OTHER_REGION_API,
    ),
    ("aggregate", "/api/v1/regions/<region_id>/reports/<period>", "GET"): Case(
        "/api/v1/regions/R01/reports/{fresh_report}",
        "api",
        ("bearer", "admin"),
        wrong_role=(*NOT_A_MANAGER_API, ("bearer", "sm1")),
        wrong_region=OTHER_REGION_API,
    ),
    ("aggregate", "/manager/regions/<region_id>/reports", "GET"): Case(
        "/manager/regions/R01/reports",
        "page",
        ("session", "rm1"),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("session", "sm1")),
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("aggregate", "/manager/regions/<region_id>/reports", "POST"): Case(
        "/manager/regions/R01/reports",
        "page",
        ("session", "rm1"),
        ok=(303,),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("bearer", "rm1")),
        wrong_region=(*OTHER_REGION_PAGE, ("session", "sm1")),
        body={"period": "2026-11"},
    ),
    ("aggregate", "/manager/regions/<region_id>/reports/<period>", "GET"): Case(
        "/manager/regions/R01/reports/{fresh_report}",
        "page",
        ("session", "sm1"),
        wrong_role=NOT_A_MANAGER_PAGE,
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("aggregate", "/manager/regions/<region_id>/reports/<period>/print", "GET"): Case(
        "/manager/regions/R01/reports/{fresh_report}/print",
        "page",
        ("session", "rm1"),
        wrong_role=NOT_A_MANAGER_PAGE,
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("aggregate", "/manager/regions/<region_id>/reports/<period>/replies/<site_id>", "POST"): Case(
        "/manager/regions/R01/reports/{fresh_report}/replies/S0001",
        "page",
        ("session", "sm1"),
        ok=(303,),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("bearer", "sm1")),
        wrong_region=(*OTHER_REGION_PAGE, ("session", "rm1")),  # a regional manager does not reply for a site
        body={"reply": "We are on it."},
    ),
    ("aggregate", "/manager/regions/<region_id>/reports/<period>/publish", "POST"): Case(
        "/manager/regions/R01/reports/{fresh_replied_report}/publish",
        "page",
        ("session", "rm1"),
        ok=(303,),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("bearer", "rm1")),
        wrong_region=(*OTHER_REGION_PAGE, ("session", "sm1")),
    ),
    ("aggregate", "/manager/regions/<region_id>/wtfc-pack", "GET"): Case(
        "/manager/regions/R01/wtfc-pack",
        "page",
        ("session", "rm1"),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("session", "sm1")),
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("aggregate", "/manager/themes/<kind>/<theme_id>", "GET"): Case(
        "/manager/themes/working/food?region_id=R01",
        "page",
        ("session", "rm1"),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("session", "sm1")),
        wrong_region=OTHER_REGION_PAGE,
    ),
    # notify: the API
    ("notify", "/api/v1/alerts", "GET"): Case(
        "/api/v1/alerts?region_id=R01",
        "api",
        ("bearer", "rm1"),
        wrong_role=NOT_A_MANAGER_API,
        wrong_region=(("bearer", "rm2"),),
    ),
    ("notify", "/api/v1/alerts/<alert_id>", "GET"): Case(
        "/api/v1/alerts/{alert_id}",
        "api",
        ("bearer", "sm1"),
        wrong_role=NOT_A_MANAGER_API,
        wrong_region=OTHER_REGION_API,
    ),
    ("notify", "/api/v1/alerts/<alert_id>/deliveries", "GET"): Case(
        "/api/v1/alerts/{alert_id}/deliveries",
        "api",
        ("bearer", "rm1"),
        wrong_role=NOT_A_MANAGER_API,
        wrong_region=OTHER_REGION_API,
    ),
    ("notify", "/api/v1/alerts/<alert_id>/acknowledge", "POST"): Case(
        "/api/v1/alerts/{fresh_alert}/acknowledge",
        "api",
        ("bearer", "sm1"),
        wrong_role=(*NOT_A_MANAGER_API, ("session", "sm1")),  # a cookie never authorises a change
        wrong_region=OTHER_REGION_API,
    ),
    ("notify", "/api/v1/alerts/<alert_id>/resolve", "POST"): Case(
        "/api/v1/alerts/{fresh_alert}/resolve",
        "api",
        ("bearer", "rm1"),
        wrong_role=(*NOT_A_MANAGER_API, ("session", "rm1")),
        wrong_region=OTHER_REGION_API,
        body={**JSON, "response": "We mended the lock."},
    ),
    ("notify", "/api/v1/silences", "GET"): Case(
        "/api/v1/silences",
        "api",
        ("bearer", "rm1"),
        wrong_role=NOT_A_MANAGER_API,
        hidden=lambda w: w.silence_id,
    ),
    ("notify", "/api/v1/silences", "POST"): Case(
        "/api/v1/silences",
        "api",
        ("bearer", "rm1"),
        ok=(201,),
        wrong_role=NOT_A_MANAGER_API,
        body={
            **JSON,
            "matchers": {"region_id": "R01", "rule": "low_score"},
            "ends_at": events.isoformat(events.now() + dt.timedelta(days=2)),
            "reason": "works on the heating",
        },
    ),
    ("notify", "/api/v1/silences/<silence_id>", "DELETE"): Case(
        "/api/v1/silences/{fresh_silence}",
        "api",
        ("bearer", "rm1"),
        wrong_role=(*NOT_A_MANAGER_API, ("session", "rm1")),
        wrong_region=OTHER_REGION_API,
    ),
    # notify: the inbox pages
    ("notify", "/manager/alerts", "GET"): Case(
        "/manager/alerts",
        "page",
        ("session", "rm1"),
        wrong_role=NOT_A_MANAGER_PAGE,
        hidden=lambda w: w.alert_id,
    ),
    ("notify", "/manager/alerts/<alert_id>", "GET"): Case(
        "/manager/alerts/{alert_id}",
        "page",
        ("session", "rm1"),
        wrong_role=NOT_A_MANAGER_PAGE,
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("notify", "/manager/alerts/<alert_id>/<action>", "POST"): Case(
        "/manager/alerts/{fresh_alert}/acknowledge",
        "page",
        ("session", "sm1"),
        ok=(303,),
        wrong_role=(*NOT_A_MANAGER_PAGE, ("bearer", "sm1")),  # a page form needs the session and its CSRF token
        wrong_region=OTHER_REGION_PAGE,
    ),
    # notify: "You said, we did" boards (checkers come with a board link: tests/integration/test_board.py)
    ("notify", "/manager/boards", "GET"): Case(
        "/manager/boards",
        "page",
        ("session", "rm1"),
        wrong_role=NOT_A_MANAGER_PAGE,
        hidden=lambda w: "/sites/S0001/board",
    ),
    ("notify", "/sites/<site_id>/board", "GET"): Case(
        "/sites/S0001/board",
        "page",
        ("session", "sm1"),
        wrong_role=NOT_A_MANAGER_PAGE,
        wrong_region=OTHER_REGION_PAGE,
    ),
    ("notify", "/sites/<site_id>/board/print", "GET"): Case(
        "/sites/S0001/board/print",
        "page",
        ("session", "rm1"),
        wrong_role=NOT_A_MANAGER_PAGE,
        wrong_region=OTHER_REGION_PAGE,
    ),
}
