"""Each service's OpenAPI document at /openapi.json: valid OpenAPI 3.1, complete, and true.

Complete: every /api/v1 route of each app, with each of its methods, is described. True: schemathesis
sends requests the document allows and requests it does not, to the real apps over the real broker and
database, signed in, and every answer must be no 5xx, a status and content type the document lists for
that operation, and a body that matches the schema it gives.
"""

from __future__ import annotations

import collections
import re
import uuid

import pytest
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.world import NO_LIMITS, build_world

pytestmark = pytest.mark.integration
SERVICES = ("checks", "aggregate", "notify")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 40  # per operation: 24 operations, about a minute on a 2-core machine


@pytest.fixture(scope="module")
def world(stack):
    w = build_world(stack.settings.replace(mongo_db=f"t_{uuid.uuid4().hex[:12]}"), **NO_LIMITS)
    yield w
    w.close()


def _document(world, service: str) -> dict:
    response = world.apps[service].test_client().get("/openapi.json")
    assert response.status_code == 200 and response.content_type == "application/json"
    return response.json


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_serves_a_valid_openapi_document_describing_every_api_route(world, service):
    document = _document(world, service)
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises, naming what is wrong
    described = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    served = set()
    for rule in world.apps[service].url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            if rule.defaults:  # a route with a default id is described with it filled in (the org's trend)
                path = path.replace("{scope}", "org")
            served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served - described == set(), "routes the document leaves out"
    assert described - served == set(), "operations the document has and the app does not"


# Who calls each API: a checker's link token for the intake (the document says a manager's works for a
# check's status too); organisation-wide for roll-ups; a regional manager for alerts (R01's are in the world).
CALLERS = {"checks": ("checker", "C1"), "aggregate": ("manager", "admin"), "notify": ("manager", "rm1")}


def _known_ids(world) -> dict[str, str]:
    """Ids that exist in the world, so that half the cases reach the code behind the look-up."""
    return {
        "alert_id": world.alert_id,
        "silence_id": world.silence_id,
        "submission_id": world.submission_id,
        "site_id": "S0001",
        "region_id": "R01",
    }


@pytest.mark.parametrize("service", SERVICES)
def test_each_api_answers_as_its_document_says(world, service, fuzz_figures):
    kind, who = CALLERS[service]
    token = world.checker_tokens[who] if kind == "checker" else world.manager_tokens[who]
    schema = schemathesis.openapi.from_wsgi("/openapi.json", world.apps[service])
    known = _known_ids(world)
    calls = collections.Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the document describes no operation"
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        ids = {name: known[name] for name in names if name in known}
        strategies = [operation.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
        if ids:
            strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=ids))

        @given(case=st.one_of(strategies))
        @settings(max_examples=EXAMPLES)
        def answers_as_documented(case):
            response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
            calls[response.status_code] += 1

        answers_as_documented()
    figures = fuzz_figures.setdefault(f"{service} (OpenAPI)", {"requests": 0, "5xx": 0, "statuses": calls})
    figures["requests"] = sum(calls.values())
    assert sum(calls.values()) >= len(operations), "every operation was called"
