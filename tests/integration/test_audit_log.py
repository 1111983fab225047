"""The audit log: who read or changed an alert or a silence, and when; identifiers only, never what was written."""

from __future__ import annotations

import datetime as dt

import pytest

from qc import events
from tests.integration.world import request

pytestmark = pytest.mark.integration
FIELDS = {"_id", "at", "who", "role", "action", "alert_id", "silence_id", "via"}


def _log(world, **query):  # noqa: F811
    return list(world.db["audit_log"].find(query, sort=[("at", 1)]))


def test_reads_and_changes_through_the_api_are_recorded(world):  # noqa: F811
    alert = world.fresh_alert()
    started = events.now()
    assert request(world, "notify", "GET", f"/api/v1/alerts/{alert}", ("bearer", "sm1")).status_code == 200
    assert request(world, "notify", "GET", f"/api/v1/alerts/{alert}/deliveries", ("bearer", "rm1")).status_code == 200
    assert request(world, "notify", "POST", f"/api/v1/alerts/{alert}/acknowledge", ("bearer", "sm1")).status_code == 200
    words = "We changed the night staff rota after talking to Mary."
    resolved = request(
        world,
        "notify",
        "POST",
        f"/api/v1/alerts/{alert}/resolve",
        ("bearer", "rm1"),
        {"__json__": True, "response": words},
    )
    assert resolved.status_code == 200
    records = _log(world, alert_id=alert)
    assert [(r["who"], r["role"], r["action"], r["via"]) for r in records] == [
        ("sm1", "site_manager", "alert.read", "api"),
        ("rm1", "regional_manager", "alert.deliveries.read", "api"),
        ("sm1", "site_manager", "alert.acknowledge", "api"),
        ("rm1", "regional_manager", "alert.resolve", "api"),
    ]
    for record in records:
        assert set(record) == FIELDS and record["at"] >= started - dt.timedelta(seconds=1)
        assert "Mary" not in str(record) and "rota" not in str(record)


def test_what_was_refused_or_failed_is_not_recorded_as_done(world):  # noqa: F811
    alert = world.fresh_alert()
    assert request(world, "notify", "GET", f"/api/v1/alerts/{alert}", ("bearer", "rm2")).status_code == 404
    assert request(world, "notify", "GET", f"/api/v1/alerts/{alert}", ("none", "")).status_code == 401
    empty = request(
        world,
        "notify",
        "POST",
        f"/api/v1/alerts/{alert}/resolve",
        ("bearer", "rm1"),
        {"__json__": True, "response": ""},
    )
    assert empty.status_code == 422
    assert _log(world, alert_id=alert) == []


def test_the_inbox_pages_are_recorded_too(world):  # noqa: F811
    alert = world.fresh_alert()
    assert request(world, "notify", "GET", f"/manager/alerts/{alert}", ("session", "rm1")).status_code == 200
    acted = request(
        world, "notify", "POST", f"/manager/alerts/{alert}/resolve", ("session", "sm1"), {"response": "Done"}
    )
    assert acted.status_code == 303 and "error" not in acted.headers["Location"]
    records = _log(world, alert_id=alert)
    assert [(r["who"], r["action"], r["via"]) for r in records] == [
        ("rm1", "alert.read", "page"),
        ("sm1", "alert.resolve", "page"),
    ]


def test_silences_made_and_ended_are_recorded(world):  # noqa: F811
    body = {
        "__json__": True,
        "matchers": {"rule": "low_score"},
        "ends_at": events.isoformat(events.now() + dt.timedelta(days=1)),
        "reason": "The heating engineer comes on Tuesday for Mary's room.",
    }
    made = request(world, "notify", "POST", "/api/v1/silences", ("bearer", "rm1"), body)
    assert made.status_code == 201
    silence = made.json["id"]
    assert request(world, "notify", "DELETE", f"/api/v1/silences/{silence}", ("bearer", "rm2")).status_code == 404
    assert request(world, "notify", "DELETE", f"/api/v1/silences/{silence}", ("bearer", "admin")).status_code == 200
    records = _log(world, silence_id=silence)
    assert [(r["who"], r["action"], r["alert_id"]) for r in records] == [
        ("rm1", "silence.create", None),
        ("admin", "silence.end", None),
    ]
    assert all("Mary" not in str(r) and "heating" not in str(r) for r in records)


def test_the_audit_log_is_indexed_by_alert_and_by_person(world):  # noqa: F811
    request(world, "notify", "GET", f"/api/v1/alerts/{world.alert_id}", ("bearer", "admin"))
    keys = {tuple(k for k, _ in index["key"].items()) for index in world.db["audit_log"].list_indexes()}
    assert ("alert_id", "at") in keys and ("who", "at") in keys
