import dataclasses
import time

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
