"""The CloudEvents 1.0 envelope (structured JSON mode) and schema checks.

Every event on every topic is built and read here, so producers and
consumers agree on one shape and every payload is checked against its JSON
Schema in ``schemas/events/``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from pathlib import Path

import jsonschema

SPECVERSION = "1.0"
# One schema file per event type and version: schemas/events/<name>.v<N>.json
SCHEMA_VERSIONS = {
    "org.qc.submission.received": 1,
    "org.qc.submission.validated": 1,
    "org.qc.submission.rejected": 1,
    "org.qc.rollup.updated": 1,
    "org.qc.alert.raised": 1,
    "org.qc.alert.acknowledged": 1,
    "org.qc.alert.resolved": 1,
    "org.qc.directory.changed": 1,
    "org.qc.deadletter": 1,
    "org.qc.fix.feedback": 1,
}
MAX_EVENT_BYTES = 1024 * 1024


class EventError(ValueError):
    """An event that cannot be read: not JSON, not an envelope, wrong schema."""


def schema_name(event_type: str) -> str:
    """File stem of an event type's schema, e.g. ``submission.received.v1``."""
    version = SCHEMA_VERSIONS[event_type]
    return f"{event_type.removeprefix('org.qc.')}.v{version}"


def dataschema_uri(event_type: str) -> str:
    """The ``dataschema`` attribute naming the schema and its version."""
    return f"urn:qc:schema:{schema_name(event_type)}"


def now() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def isoformat(moment: dt.datetime) -> str:
    """RFC 3339 timestamp with a ``Z`` suffix."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_event(
    event_type: str,
    *,
    source: str,
    subject: str,
    data: dict,
    correlation_id: str | None = None,
    event_id: str | None = None,
    time: dt.datetime | None = None,
) -> dict:
    """Build an envelope; ``event_id`` should be deterministic where replays matter."""
    event = {
        "specversion": SPECVERSION,
        "id": event_id or str(uuid.uuid4()),
        "type": event_type,
        "source": source,
        "time": isoformat(time or now()),
        "subject": subject,
        "dataschema": dataschema_uri(event_type),
        "datacontenttype": "application/json",
        "data": data,
    }
    if correlation_id:
        # CloudEvents extension attribute: follows a submission end to end.
        event["correlationid"] = correlation_id
    return event


def encode(event: dict) -> bytes:
    """Serialise an event for Kafka."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def decode(raw: bytes | None, *, schemas_dir: Path) -> dict:
    """Parse and check one Kafka value; raise EventError saying what is wrong."""
    if raw is None:
        raise EventError("empty value (tombstone) where an event was expected")
    if len(raw) > MAX_EVENT_BYTES:
        raise EventError(f"event of {len(raw)} bytes exceeds {MAX_EVENT_BYTES}")
    try:
        event = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EventError(f"not valid JSON: {e}") from e
    validate(event, schemas_dir=schemas_dir)
    return event


def validate(event: dict, *, schemas_dir: Path) -> None:
    """Check the envelope and the data against the type's JSON Schema."""
    if not isinstance(event, dict):
        raise EventError("event is not a JSON object")
    _check(event, _schema(schemas_dir, "envelope.v1"), "envelope")
    event_type = event["type"]
    if event_type not in SCHEMA_VERSIONS:
        raise EventError(f"unknown event type {event_type!r}")
    if event["dataschema"] != dataschema_uri(event_type):
        # Only v1 exists; an upcaster goes here when a v2 arrives.
        raise EventError(f"unsupported dataschema {event['dataschema']!r} for {event_type}")
    _check(event["data"], _schema(schemas_dir, schema_name(event_type)), event_type)


def _check(instance, schema: dict, what: str) -> None:
    error = jsonschema.exceptions.best_match(_validator(json.dumps(schema)).iter_errors(instance))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise EventError(f"{what} does not match its schema at {where}: {error.message}")


@functools.cache
def _schema(schemas_dir: Path, name: str) -> dict:
    return json.loads((Path(schemas_dir) / "events" / f"{name}.json").read_text())


@functools.cache
def _validator(schema_json: str):
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)
