"""Generated requests against every route of the three apps, over the real broker and database: zero 5xx.

hypothesis draws a route from each app's ``url_map`` (so a new route is
fuzzed without anyone adding it here), fills its path with known ids or
anything at all, and adds a query string, headers, cookies and a body that
range from almost-right (a submission with one field wrong) to random bytes.
Credentials are valid ones of every role as often as forged ones, so the
requests get past sign-in and reach the code behind it.
"""

from __future__ import annotations

import collections
import json
import re
import urllib.parse
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qc import auth, web
from qc.settings import ROOT
from tests.integration.world import MANAGERS, NO_LIMITS, World, build_world, checker_csrf
from tests.scenarios.routes import ROUTES, fill

pytestmark = pytest.mark.integration
# Requests per service; with the "ci" profile ~60 s for all three on a 2-core machine.
EXAMPLES = {"checks": 1200, "aggregate": 700, "notify": 900}
SERVICES = sorted(EXAMPLES)


@pytest.fixture(scope="module")
def world(stack) -> World:
    w = build_world(stack.settings.replace(mongo_db=f"t_{uuid.uuid4().hex[:12]}"), **NO_LIMITS)
    w.csrf = {c: checker_csrf(w, c) for c in w.checker_tokens}
    w.manager_csrf = {m: web.manager_csrf_token(w.settings, t) for m, t in w.manager_tokens.items()}
    yield w
    w.close()


# --- strategies ---------------------------------------------------------------------------------------

# Text that tends to break things: control characters, NUL, surrogates escaped in JSON, RTL marks,
# Mongo operators, path tricks, long runs.
NASTY = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\n",
        "$ne",
        "$where",
        "a.b",
        "..",
        "../../etc/passwd",
        "%",
        "%zz",
        "%00",
        "\u202e",
        "\ufeff",
        "😀",
        "²",
        "٣",
        "２０２６-１１",
        "9" * 400,
        "-1",
        "0",
        "1e400",
        "NaN",
        "null",
        "true",
        "[]",
        "{}",
        "<script>",
        "' OR 1=1 --",
        "x" * 5000,
        "0000-01",
        "9999-12",
        "9999-W52",
        "2026-W53",
        "2026-Q5",
        "2026-11\n",
        "http://[::1",
        "//evil.example",
    ]
)
TEXT = st.one_of(NASTY, st.text(max_size=60), st.text(alphabet=st.characters(codec="ascii"), max_size=30))
ASCII_HEADER = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=120)


def known_values(world: World) -> list[str]:
    """Ids that exist, so paths and queries often point at something real."""
    return [
        "S0001",
        "S0002",
        "R01",
        "R02",
        "all",
        "sites",
        "regions",
        "org",
        "C1",
        world.submission_id,
        world.draft_id,
        world.alert_id,
        world.silence_id,
        "q-listened-to",
        "who",
        "when",  # the visit day: a date parser behind it
        "questions",
        "working",
        "not-working",
        "check",
        "acknowledge",
        "resolve",
        "checks.css",
        "checks.js",
        "2026-11",
        "2026-W47",
        "2026-Q4",
        str(uuid.uuid4()),
    ]


def json_values():
    """Any JSON value, including the edge numbers a strict parser must cope with."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**60), max_value=2**60),
        st.floats(allow_nan=False, allow_infinity=False),
        TEXT,
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=5), st.dictionaries(st.one_of(TEXT, st.just("site_id")), children, max_size=5)
        ),
        max_leaves=20,
    )


def near_valid(world: World):
    """Bodies that are nearly right for each JSON endpoint, with any field possibly replaced by junk."""
    anything = json_values()
    answer = st.fixed_dictionaries(
        {
            "question_id": st.one_of(st.sampled_from(["feel-safe", "listened-to", "respect"]), anything),
            "score": st.one_of(st.sampled_from([1, 2, 3, None]), anything),
            "comment": st.one_of(st.just(""), anything),
        }
    )
    submission = st.fixed_dictionaries(
        {
            "submission_id": st.one_of(st.uuids().map(str), anything),
            "site_id": st.one_of(st.sampled_from(["S0001", "S0002"]), anything),
            "question_set": st.one_of(st.just({"id": "everyday-life", "version": 1}), anything),
            "visited_on": st.one_of(st.dates().map(str), st.just("2026-11-20"), anything),
            "answers": st.one_of(st.lists(answer, min_size=1, max_size=4), anything),
        },
        optional={
            "working": st.one_of(st.lists(TEXT, max_size=3), anything),
            "not_working": st.one_of(st.lists(TEXT, max_size=3), anything),
            "urgent_concern": st.one_of(st.none(), TEXT, anything),
        },
    )
    silence = st.fixed_dictionaries(
        {
            "matchers": st.one_of(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "rule": st.one_of(st.sampled_from(["low_score", "urgent_concern"]), anything),
                        "site_id": st.one_of(st.just("S0001"), anything),
                        "region_id": st.one_of(st.just("R01"), anything),
                    },
                ),
                anything,
            ),
            "ends_at": st.one_of(st.just("2099-01-01T00:00:00Z"), st.datetimes().map(str), TEXT, anything),
            "reason": st.one_of(TEXT, anything),
        }
    )
    response = st.fixed_dictionaries({"response": st.one_of(TEXT, anything)})
    token = st.fixed_dictionaries(
        {
            "username": st.one_of(st.sampled_from(sorted(MANAGERS)), TEXT, anything),
            "password": st.one_of(TEXT, anything),
        }
    )
    return st.one_of(submission, silence, response, token, anything)


def form_field_names() -> list[str]:
    """Every field a page reads: each literal ``form.get("…")`` in the services, each field a template names,
    and the per-question fields for every question of every question set (``score-<id>`` …)."""
    names = {"from", "per_screen", "text_size", "pictures", "read_aloud"}
    question_ids = set()
    for path in sorted(ROOT.glob("schemas/question-sets/*.json")):
        question_ids |= {q["id"] for q in json.loads(path.read_text())["questions"]}
    names |= {f"{kind}-{q}" for q in question_ids for kind in ("score", "comment", "share")}
    names |= {"share-working", "share-not-working", "share-concern", "texts_share", "urgent_concern_share"}
    for path in ROOT.glob("services/**/*.py"):
        names |= set(re.findall(r'form\.get(?:list)?\(\s*"([^"]+)"', path.read_text()))
    for path in ROOT.glob("services/*/web/templates/*.html"):
        names |= set(re.findall(r'name="([a-z][a-z0-9_-]*)"', path.read_text()))
    return sorted(names - {"viewport", "robots", "qc-csrf", "qc-checker"})


# Days as people write them, and the ones that once broke a parser: "²" is a digit to isdigit()
# but not to int(), and a year that overflows a date.
DAYS = st.one_of(
    st.dates().map(lambda d: f"{d.day}/{d.month}/{d.year}"),
    st.dates().map(str),
    st.sampled_from(["1/1/²", "1/1/" + "9" * 30, "31/2/2026", "0/0/0", "3 / 11 / 26", "03.11.2026", "٣/١١/٢٠٢٦"]),
)


def form_fields(world: World):
    """Form posts: the fields the pages read, plus anything, with a CSRF token that is right or wrong."""
    names = st.sampled_from(form_field_names())
    values = st.one_of(
        st.sampled_from(["3", "2", "1", "skip", "send", "keep", "one", "all", "large", "symbols", "on", "off"]),
        st.sampled_from(["today", "yesterday", "other", "alone", "with_supporter", "named", "anonymous"]),
        st.sampled_from([world.csrf["C1"], world.csrf["C2"]]),
        st.sampled_from([*MANAGERS, *(f"{m} password" for m in MANAGERS)]),
        QUERY["next"],
        DAYS,
        TEXT,
    )
    return st.dictionaries(st.one_of(names, TEXT), values, max_size=8)


PERIODS = st.one_of(
    st.sampled_from(["2026-11", "2026-W47", "2026-Q4", "0000-01", "0001-01", "0001-W01", "0001-Q1", "9999-12"]),
    st.sampled_from(["9999-W52", "9999-Q4", "2026-W53", "2020-W53", "2026-13", "2026-Q0"]),
    # \\d also draws other scripts' digits (²٣２), which a careless int() trips on.
    st.from_regex(r"\A\d{4}-(0[1-9]|1[0-2]|W\d\d|Q\d)\Z"),
    TEXT,
)
COUNTS = st.one_of(st.integers(-3, 100).map(str), st.text(alphabet="0123456789²³¹٣０-+ ", max_size=4), TEXT)
QUERY = {
    "period": PERIODS,
    "count": COUNTS,
    "region_id": st.one_of(st.sampled_from(["R01", "R02", "R99", ""]), TEXT),
    "site_id": st.one_of(st.sampled_from(["S0001", "S0002", "S9999", ""]), TEXT),
    "status": st.one_of(st.sampled_from(["open", "acknowledged", "resolved", "all"]), TEXT),
    "format": st.one_of(st.just("csv"), TEXT),
    "sort": st.one_of(st.sampled_from(["site", "score", "change", "days", "checks"]), TEXT),
    "dir": st.one_of(st.sampled_from(["asc", "desc"]), TEXT),
    "next": st.one_of(st.sampled_from(["http://127.0.0.1:8002/manager", "https://evil.example/", "http://[::1"]), TEXT),
    "return": st.one_of(st.just("check"), TEXT),
    "from": st.one_of(st.sampled_from(["q-listened-to", "questions", "working", "check"]), TEXT),
    "error": st.one_of(st.sampled_from(["409", "422", "503"]), TEXT),
    "saved": st.one_of(st.just("1"), TEXT),
}


def credentials(world: World) -> list[tuple[str, str]]:
    """Every valid credential there is: managers' tokens and sessions, checkers' tokens and phones."""
    return [
        *((kind, name) for name in world.manager_tokens for kind in ("bearer", "session")),
        *((kind, name) for name in world.checker_tokens for kind in ("checker", "phone")),
    ]


@st.composite
def requests(draw, world: World, service: str):
    """One request to ``service``: (method, path, query, headers, cookies, body, content_type).

    Most start as the request the route's owner would send (from the access
    matrix) and have a part or two changed, so they get past sign-in and
    validation into the code behind; the rest are anything at all.
    """
    app = world.apps[service]
    rule = draw(st.sampled_from(sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, sorted(r.methods)))))
    methods = sorted(rule.methods - {"OPTIONS"})
    # Mostly the route's own methods: a wrong one only ever gets 405.
    if draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]))
    else:
        method = draw(st.sampled_from(methods))
    case = ROUTES.get((service, rule.rule, method))
    known = known_values(world)

    path = rule.rule
    for name in re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", rule.rule):
        value = draw(st.one_of(st.sampled_from(known), st.sampled_from(known), TEXT))
        quoted = urllib.parse.quote(value, safe="/" if "path:" in rule.rule else "")
        path = re.sub(r"<(?:[^:<>]+:)?" + re.escape(name) + ">", lambda _m, q=quoted: q or "x", path, count=1)
    if case is not None and draw(st.booleans()):
        # The matrix's own path: real ids that this credential owns (and its query, if any).
        path = fill(world, case.path, fresh=False)
    if draw(st.integers(0, 19)) == 0:
        path = path + draw(st.sampled_from(["/", "//", "/..", "%2F", "?"]))

    query = [(k, draw(v)) for k, v in QUERY.items() if draw(st.integers(0, 3)) == 0]
    if draw(st.integers(0, 4)) == 0:
        query += draw(st.lists(st.tuples(TEXT, TEXT), max_size=3))

    # Credentials: the route's owner half the time, any valid one often, forged or none otherwise.
    creds = credentials(world)
    owner = [case.owner] if case is not None else creds
    cred = draw(
        st.one_of(st.sampled_from(owner), st.sampled_from(creds), st.just(("none", "")), st.just(("forged", "")))
    )
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    kind, name = cred
    if kind == "bearer":
        headers["Authorization"] = f"Bearer {world.manager_tokens[name]}"
    elif kind == "checker":
        headers["Authorization"] = f"Bearer {world.checker_tokens[name]}"
    elif kind == "session":
        cookies[web.MANAGER_COOKIE] = world.manager_tokens[name]
    elif kind == "phone":
        cookies["qc_checker"] = world.checker_tokens[name]
    elif kind == "forged":
        forged = auth.issue_manager_token("not-our-key", auth.Principal("x", "org_admin"))
        headers["Authorization"] = draw(st.sampled_from([f"Bearer {forged}", "Bearer", "Basic eDp5", "bearer  x"]))
        if draw(st.booleans()):
            headers["Authorization"] = draw(ASCII_HEADER)
        if draw(st.booleans()):
            cookies[draw(st.sampled_from([web.MANAGER_COOKIE, "qc_checker"]))] = draw(ASCII_HEADER)
    csrf = world.csrf.get(name, "") if kind == "phone" else world.manager_csrf.get(name, "")
    if draw(st.integers(0, 5)) == 0:
        csrf = draw(st.one_of(st.sampled_from(list(world.csrf.values())), ASCII_HEADER))
    if kind == "phone":
        headers["X-CSRF-Token"] = csrf
    if draw(st.booleans()):
        # The sign-in form's CSRF check is cookie == field: with both, a sign-in gets to the password.
        cookies["qc_signin_csrf"] = csrf
    if draw(st.integers(0, 4)) == 0:
        headers["X-Correlation-ID"] = draw(ASCII_HEADER)
    if draw(st.integers(0, 4)) == 0:
        headers["X-Forwarded-For"] = draw(ASCII_HEADER)

    content_type = "application/json"
    body: bytes | dict | None = None
    choice = draw(st.sampled_from(["base", "base", "json", "form", "bytes", "raw-json", "none"]))
    if choice == "base" and case is not None and case.body is not None:
        base = {k: v for k, v in case.body.items() if k != "__json__"}
        if "__json__" in case.body:
            body = json.dumps(draw(_mutated(base))).encode()
        else:
            body = {**draw(_mutated(base)), "csrf_token": csrf}
            content_type = "application/x-www-form-urlencoded"
    elif choice in ("base", "json"):
        body = json.dumps(draw(near_valid(world))).encode()
    elif choice == "raw-json":
        body = draw(
            st.sampled_from([b'{"a": 1e400}', b'{"a": NaN}', b'{"a": "\\ud800"}', b"[" * 3000, b'{"a":1,"a":2}'])
        )
    elif choice == "form":
        body = {**draw(form_fields(world)), "csrf_token": csrf}
        content_type = "application/x-www-form-urlencoded"
    elif choice == "bytes":
        body = draw(st.binary(max_size=300))
    if draw(st.integers(0, 7)) == 0:
        content_type = draw(
            st.sampled_from(["text/plain", "application/json; charset=latin-1", "multipart/form-data", "", "x/y"])
        )
    return method, path, query, headers, cookies, body, content_type


@st.composite
def _mutated(draw, base: dict) -> dict:
    """``base`` with at most two fields changed to anything, or dropped."""
    body = dict(base)
    for _ in range(draw(st.integers(0, 2))):
        key = draw(st.one_of(st.sampled_from(sorted(body) or ["x"]), TEXT))
        if draw(st.integers(0, 3)) == 0:
            body.pop(key, None)
        else:
            body[key] = draw(json_values())
    return body


def _send(world: World, service: str, req) -> int:
    method, path, query, headers, cookies, body, content_type = req
    client = world.apps[service].test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    path, _, in_path = path.partition("?")
    # The test client reads "//host/…" as a URL with a host; a server would see a path.
    path = "/" + path.lstrip("/")
    kwargs = {"headers": headers, "query_string": "&".join(q for q in (in_path, urllib.parse.urlencode(query)) if q)}
    if isinstance(body, dict):
        kwargs["data"] = body
    elif body is not None:
        kwargs["data"] = body
    if content_type and body is not None:
        kwargs["content_type"] = content_type
    response = client.open(path, method=method, **kwargs)
    response.get_data()
    response.close()
    return response.status_code


@pytest.mark.parametrize("service", SERVICES)
def test_no_request_gets_a_5xx(world, service, fuzz_figures):
    """Thousands of generated requests to every route of the app; each must get an answer below 500."""
    figures = fuzz_figures.setdefault(service, {"requests": 0, "5xx": 0, "statuses": collections.Counter()})

    @settings(max_examples=EXAMPLES[service])
    @given(req=requests(world, service))
    def fuzz(req):
        status = _send(world, service, req)
        figures["requests"] += 1
        figures["statuses"][status] += 1
        if status >= 500:
            figures["5xx"] += 1
        assert status < 500, f"{status} for {req!r}"

    fuzz()
    assert figures["5xx"] == 0


def test_the_form_screens_answer_whatever_is_written_without_a_5xx(world, fuzz_figures):
    """A signed-in checker's real draft, each screen posted with the fields the pages read filled with anything,
    the visit day above all (a "²" or a year too large for a date once answered 500)."""
    figures = fuzz_figures.setdefault("form screens", {"requests": 0, "5xx": 0, "statuses": collections.Counter()})
    # Not "check" or "worried": sending the draft would end it, and the screens after it would only say so.
    screens = ["who", "when", "q-listened-to", "q-feel-safe", "working", "not-working"]

    @settings(max_examples=300)
    @given(
        screen=st.sampled_from(screens),
        fields=form_fields(world),
        visited=st.sampled_from(["other", "other", "today", "yesterday", ""]),
        day=st.one_of(DAYS, TEXT),
    )
    def fuzz(screen, fields, visited, day):
        body = {**fields, "visited": visited, "visited_on": day, "csrf_token": world.csrf["C1"]}
        cookies = {"qc_checker": world.checker_tokens["C1"]}
        form = "application/x-www-form-urlencoded"
        status = _send(world, "checks", ("POST", f"/check/{world.draft_id}/{screen}", [], {}, cookies, body, form))
        figures["requests"] += 1
        figures["statuses"][status] += 1
        figures["5xx"] += status >= 500
        assert status < 500, f"{status} for {screen} {body!r}"

    fuzz()
