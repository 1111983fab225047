import dataclasses
import json
import time

import jsonschema
import pytest

from qc import auth, events
from qc.settings import ROOT, Settings

SCHEMAS = ROOT / "schemas"


def _directory_event():
    return events.make_event(
        "org.qc.directory.changed",
        source="qc/test",
        subject="site/S1",
        data={"entity": "site", "id": "S1", "active": True, "name": "Oak", "region_id": "R01"},
    )


def test_an_event_round_trips_through_encode_and_decode():
    event = _directory_event()
    assert events.decode(events.encode(event), schemas_dir=SCHEMAS) == event


@pytest.mark.parametrize(
    "raw,message",
    [
        (b"\xff\xfe", "not valid JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"specversion": "1.0"}', "envelope"),
        (None, "tombstone"),
    ],
)
def test_unreadable_events_are_refused_with_a_reason(raw, message):
    with pytest.raises(events.EventError, match=message):
        events.decode(raw, schemas_dir=SCHEMAS)


def test_unknown_type_and_bad_data_are_refused():
    event = _directory_event()
    with pytest.raises(events.EventError, match="unknown event type"):
        events.validate({**event, "type": "org.qc.nope"}, schemas_dir=SCHEMAS)
    with pytest.raises(events.EventError, match="directory.changed"):
        events.validate({**event, "data": {"entity": "site"}}, schemas_dir=SCHEMAS)


SECRET = "my carer shouts at me"


def _received_event(**data_changes):
    data = {
        "submission_id": "0b6a3c8e-2f4d-4e5a-9b1c-7d8e9f0a1b2c",
        "checker_id": "C1",
        "site_id": "S1",
        "question_set": {"id": "everyday-life", "version": 1},
        "visited_on": "2026-01-05",
        "answers": [{"question_id": f"q{i}", "score": 3, "comment": ""} for i in range(3)],
        "working": [],
        "not_working": [],
        "urgent_concern": None,
        "received_at": "2026-01-05T10:00:00.000Z",
        "content_hash": "0" * 64,
    }
    data.update(data_changes)
    return events.make_event("org.qc.submission.received", source="qc/test", subject="x", data=data)


def _reason(event) -> str:
    with pytest.raises(events.EventError) as refused:
        events.decode(events.encode(event), schemas_dir=SCHEMAS)
    return str(refused.value)


def test_the_valid_received_event_used_below_is_valid():
    assert events.decode(events.encode(_received_event()), schemas_dir=SCHEMAS)["data"]["site_id"] == "S1"


@pytest.mark.parametrize(
    "changes,expected",
    [
        (
            {
                "answers": [{"question_id": "q0", "score": 3, "comment": ""}] * 2
                + [{"question_id": "q2", "score": 3, "comment": SECRET * 60}]
            },
            "answers[2].comment: longer than 1000 characters",
        ),
        ({"not_working": [SECRET, ""]}, "not_working[1]: empty"),
        ({"urgent_concern": {"text": SECRET}}, "urgent_concern: not of type string or null"),
        ({"answers": [{"question_id": "q0", "score": SECRET, "comment": ""}]}, "answers[0].score: not one of 1, 2, 3"),
        ({"visited_on": SECRET}, "visited_on: not a valid date"),
        ({"answers": [{"question_id": "q0", "score": 3, "comment": "", SECRET: SECRET}]}, "answers[0]: has a property"),
        ({"site_id": SECRET, "checker_id": None}, "checker_id: not of type string"),
    ],
)
def test_schema_reasons_name_the_field_and_the_rule_never_the_value(changes, expected):
    """Reasons go into logs and the dead-letter topic: a check's words must not (no personal data in logs)."""
    reason = _reason(_received_event(**changes))
    assert reason.startswith("org.qc.submission.received does not match its schema: ")
    assert expected in reason
    assert "carer" not in reason and SECRET[:5] not in reason


def test_a_missing_field_and_an_unknown_one_are_named_from_the_schema_only():
    event = _received_event()
    del event["data"]["content_hash"]
    assert _reason(event).endswith("(root): required property content_hash missing")
    # A key the payload made up is not a schema name: its text stays out too.
    event = _received_event()
    event["data"]["answers"][1] = {"question_id": "q1", "score": 3}
    assert _reason(event).endswith("answers[1]: required property comment missing")
    assert "carer" not in _reason({**_received_event(), SECRET: 1})


def test_envelope_values_in_a_reason_are_capped():
    reason = _reason({**_received_event(), "type": "x" * 500})
    assert "unknown event type" in reason and len(reason) < 150


def _refs(node) -> list:
    if isinstance(node, dict):
        return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in _refs(v)]
    return [r for v in node for r in _refs(v)] if isinstance(node, list) else []


@pytest.mark.parametrize("path", sorted((SCHEMAS / "events").glob("*.json")), ids=lambda p: p.stem)
def test_inlined_schemas_check_what_the_schemas_say(path):
    """Local $refs are written out in place for speed: no $ref is left to resolve, and the verdicts agree."""
    schema = json.loads(path.read_text())
    inlined = events._validator(SCHEMAS, path.stem).full.schema
    assert not _refs({k: v for k, v in inlined.items() if k != "$defs"})
    plain = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    if path.stem == "submission.received.v1":
        good = _received_event()["data"]
        samples = [good] + [
            {**good, **change}
            for change in (
                {"submission_id": "nope"},
                {"visited_on": "2026-13-45"},
                {"received_at": "soon"},
                {"answers": [{"question_id": "", "score": 3, "comment": ""}]},
                {"question_set": {"id": "x", "version": 0}},
                {"answered_by": "someone"},
                {"texts_share": "everyone"},
                {"working": ["x" * 501]},
            )
        ]
        assert [plain.is_valid(x) for x in samples] == [True] + [False] * 8
    else:
        samples = [{}, {"id": 1}, []]
    validator = events._validator(SCHEMAS, path.stem)
    # Both the compiled yes/no and the inlined jsonschema validator give the plain schema's verdicts.
    assert [validator.is_valid(x) for x in samples] == [plain.is_valid(x) for x in samples]
    assert [validator.full.is_valid(x) for x in samples] == [plain.is_valid(x) for x in samples]


def test_where_the_compiled_check_is_stricter_jsonschema_decides():
    """jsonschema is the authority: fastjsonschema checks a URI's form, jsonschema (without rfc3987) does not."""
    validator = events._Validator({"$schema": "https://json-schema.org/draft/2020-12/schema", "format": "uri"})
    assert not validator.is_valid("soon") and validator.full.is_valid("soon")
    events._check("soon", validator, "x")  # accepted, as jsonschema accepts it
    with pytest.raises(events.EventError, match="x does not match its schema"):
        events._check("soon", events._Validator({"type": "integer"}), "x")


def test_manager_token_round_trip_and_tampering():
    principal = auth.Principal("rm-r01", "regional_manager", region_id="R01")
    token = auth.issue_manager_token("k1", principal)
    assert auth.read_manager_token("k1", token, 60) == principal
    with pytest.raises(auth.AuthError, match="not valid"):
        auth.read_manager_token("other-key", token, 60)
    with pytest.raises(auth.AuthError, match="expired"):
        time.sleep(1.1)  # itsdangerous timestamps have one-second resolution
        auth.read_manager_token("k1", token, 0)


def test_scoping_of_each_role():
    site_manager = auth.Principal("sm", "site_manager", region_id="R01", site_id="S1")
    regional = auth.Principal("rm", "regional_manager", region_id="R01")
    admin = auth.Principal("a", "org_admin")
    assert site_manager.can_see_site("S1", "R01") and not site_manager.can_see_site("S2", "R01")
    assert regional.can_see_site("S2", "R01") and not regional.can_see_site("S3", "R02")
    assert admin.can_see_region("R07") and not regional.can_see_region("R02")


def test_checker_tokens_are_stored_as_hashes():
    token = auth.new_checker_token()
    assert len(token) >= 40 and auth.hash_checker_token(token) != token
    assert auth.hash_checker_token(token) == auth.hash_checker_token(token)


def test_settings_read_and_convert_qc_env():
    s = Settings.from_env({"QC_CHECKS_PORT": "9001", "QC_KAFKA_ACK_TIMEOUT_SECONDS": "2.5", "QC_VAR_DIR": "/tmp/x"})
    assert (s.checks_port, s.kafka_ack_timeout_seconds, str(s.var_dir)) == (9001, 2.5, "/tmp/x")
    with pytest.raises(ValueError, match="QC_CHECKS_PORT"):
        Settings.from_env({"QC_CHECKS_PORT": "eighty"})
    assert dataclasses.fields(Settings)


def _worry_alone(**data_changes):
    changes = {"kind": "worry", "answers": [], "urgent_concern": "The night staff shout at us", **data_changes}
    return _received_event(**changes)


def test_a_worry_sent_on_its_own_is_a_submission_with_the_worry_and_nothing_else():
    assert events.decode(events.encode(_worry_alone()), schemas_dir=SCHEMAS)["data"]["kind"] == "worry"
    assert events.is_worry_alone(_worry_alone()["data"]) and not events.is_worry_alone(_received_event()["data"])
    # Anything of a check in it, or no worry, is refused; so is a check without answers, or another kind.
    assert "answers: " in _reason(_worry_alone(answers=_received_event()["data"]["answers"]))
    assert "not_working: " in _reason(_worry_alone(not_working=["the lift"]))
    assert "urgent_concern: " in _reason(_worry_alone(urgent_concern=None))
    assert "urgent_concern: " in _reason(_worry_alone(urgent_concern="  "))
    assert "answers: " in _reason(_received_event(answers=[]))
    assert "kind: " in _reason(_received_event(kind="note"))


def test_an_event_time_that_is_not_rfc_3339_is_refused():
    """rfc3339-validator is a dependency of the product, so "date-time" is checked in production as in tests."""
    validator = events._Validator({"$schema": "https://json-schema.org/draft/2020-12/schema", "format": "date-time"})
    assert validator.is_valid(events.isoformat(events.now()))
    assert not validator.is_valid("soon") and not validator.full.is_valid("soon")


def test_decode_fills_in_what_an_older_check_did_not_say_and_keeps_what_it_did():
    """The one upcaster: a check from before consent was asked reads as answered alone, every text anonymous."""
    older = _received_event()
    named = _received_event(
        answers=[{"question_id": "q0", "score": 3, "comment": "", "share": "named"}],
        answered_by="supporter_wrote",
        texts_share="named",
    )
    data = events.decode(events.encode(older), schemas_dir=SCHEMAS)["data"]
    assert data["answered_by"] == "alone"
    assert data["texts_share"] == data["urgent_concern_share"] == "anonymous"
    assert [a["share"] for a in data["answers"]] == ["anonymous"] * 3
    kept = events.decode(events.encode(named), schemas_dir=SCHEMAS)["data"]
    assert (kept["answered_by"], kept["texts_share"], kept["answers"][0]["share"]) == (
        "supporter_wrote",
        "named",
        "named",
    )
    assert kept["urgent_concern_share"] == "anonymous"


def test_a_rejection_is_upcast_only_where_it_carries_a_worry():
    data = {
        "submission_id": "0b6a3c8e-2f4d-4e5a-9b1c-7d8e9f0a1b2c",
        "checker_id": "C1",
        "site_id": "S1",
        "region_id": None,
        "received_at": "2026-01-05T10:00:00.000Z",
        "rejected_at": "2026-01-05T10:00:01.000Z",
        "reasons": [{"code": "unknown_site", "field": "site_id", "message": "We do not know this service."}],
    }
    plain = events.make_event("org.qc.submission.rejected", source="qc/test", subject="x", data=data)
    assert events.decode(events.encode(plain), schemas_dir=SCHEMAS) == plain
    worried = events.make_event(
        "org.qc.submission.rejected", source="qc/test", subject="x", data={**data, "urgent_concern": SECRET}
    )
    read = events.decode(events.encode(worried), schemas_dir=SCHEMAS)["data"]
    assert (read["answered_by"], read["urgent_concern_share"]) == ("alone", "anonymous")


@pytest.mark.parametrize("value", [None, "", "Named", "everyone", 1])
def test_anything_unknown_in_a_stored_consent_is_the_safe_default(value):
    from qc import sharing

    assert sharing.share_of(value) == "anonymous"
    assert sharing.answered_by_of(value) == "alone"
    assert sharing.share_of("named") == "named" and sharing.answered_by_of("with_supporter") == "with_supporter"
