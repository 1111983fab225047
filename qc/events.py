"""The CloudEvents 1.0 envelope (structured JSON mode) and schema checks: every event on every topic is
built and read here, so all agree on one shape and every payload is checked against ``schemas/events/``."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import uuid
from pathlib import Path

import fastjsonschema
import jsonschema

from qc import sharing

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
    "org.qc.action.changed": 1,
    "org.qc.report.changed": 1,
    "org.qc.questions.changed": 1,
}
MAX_EVENT_BYTES = 1024 * 1024

# What a submission is (no field: a check, as every one before it was). A check is counted; a worry sent on
# its own (before the check is finished) is acted on by notify and counted by nothing; a voice (the key
# questions answered through a site's own link by anyone supported there) counts in team feedback only.
CHECK, WORRY_ALONE, VOICE = "check", "worry", "voice"
SUBMISSION_KINDS = (CHECK, WORRY_ALONE)  # what a checker's phone may send (a voice comes from checks' own page)


def is_worry_alone(submission: dict) -> bool:
    """True for a worry sent on its own: no answers, nothing to count, a safeguarding alert all the same."""
    return submission.get("kind") == WORRY_ALONE


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


def parse_time(text: str | None) -> dt.datetime | None:
    """An RFC 3339 timestamp (as ``isoformat`` writes it) as a timezone-aware datetime; None stays None."""
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


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
    if correlation_id:  # CloudEvents extension attribute: follows a submission end to end
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
    return sharing.upcast(event)  # older events get the fields later versions always carry


def validate(event: dict, *, schemas_dir: Path) -> None:
    """Check the envelope and the data against the type's JSON Schema."""
    if not isinstance(event, dict):
        raise EventError("event is not a JSON object")
    _check(event, _validator(schemas_dir, "envelope.v1"), "envelope")
    event_type = event["type"]
    if event_type not in SCHEMA_VERSIONS:
        raise EventError(f"unknown event type {_short(event_type)}")
    if event["dataschema"] != dataschema_uri(event_type):
        # Only v1 exists; an upcaster goes here when a v2 arrives.
        raise EventError(f"unsupported dataschema {_short(event['dataschema'])} for {event_type}")
    _check(event["data"], _validator(schemas_dir, schema_name(event_type)), event_type)


def _check(instance, validator: _Validator, what: str) -> None:
    # Valid events are nearly all of them: the compiled yes/no first, and
    # jsonschema (the authority) only when that says no.
    if validator.is_valid(instance):
        return
    error = jsonschema.exceptions.best_match(validator.full.iter_errors(instance))
    if error is None:
        return  # the compiled check is stricter than jsonschema here (e.g. date-time): jsonschema decides
    raise EventError(f"{what} does not match its schema: {describe(error)}")


def describe(error: jsonschema.exceptions.ValidationError) -> str:
    """Where and which rule, e.g. ``answers[2].comment: longer than 1000 characters``, never the value.

    jsonschema's own messages quote the value ("'my carer shouts at me' is too
    long"), and this reason goes into logs and the dead-letter topic: a check
    may hold a safeguarding concern, so only the schema's words are used.
    """
    return f"{_path(error.absolute_path)}: {_rule(error)}"


def _path(parts) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            # Keys are the schema's names, unless a map's keys come from the payload.
            name = part if _NAME.fullmatch(str(part)) else "*"
            out += f".{name}" if out else name
    return out or "(root)"


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


def _rule(error) -> str:
    rule, value, instance = error.validator, error.validator_value, error.instance
    if rule == "required" and isinstance(instance, dict) and isinstance(value, list):
        missing = [name for name in value if name not in instance]
        return f"required {_names(missing)} missing"
    if rule in _RULES:
        return _RULES[rule](value)
    return f"fails the schema's {_short(rule)} rule"


def _names(names) -> str:
    names = [str(n) for n in names if _NAME.fullmatch(str(n))]
    return "property " + ", ".join(names) if names else "property"


def _kind(value) -> str:
    return " or ".join(value) if isinstance(value, list) else str(value)


def _chars(n) -> str:
    return f"{n} character" + ("" if n == 1 else "s")


def _items(n) -> str:
    return f"{n} item" + ("" if n == 1 else "s")


# Each message is built from the rule's value in the schema (a limit, a type,
# the allowed values), never from the instance.
_RULES = {
    "type": lambda v: f"not of type {_kind(v)}",
    "maxLength": lambda v: f"longer than {_chars(v)}",
    "minLength": lambda v: "empty" if v == 1 else f"shorter than {_chars(v)}",
    "maxItems": lambda v: f"more than {_items(v)}",
    "minItems": lambda v: "no items" if v == 1 else f"fewer than {_items(v)}",
    "maximum": lambda v: f"greater than {v}",
    "minimum": lambda v: f"less than {v}",
    "exclusiveMaximum": lambda v: f"not less than {v}",
    "exclusiveMinimum": lambda v: f"not greater than {v}",
    "multipleOf": lambda v: f"not a multiple of {v}",
    "pattern": lambda v: "not in the expected form",
    "format": lambda v: f"not a valid {v}",
    "enum": lambda v: "not one of " + ", ".join(json.dumps(x) for x in v) if len(v) <= 10 else "not an allowed value",
    "const": lambda v: f"not {json.dumps(v)}",
    "additionalProperties": lambda v: "has a property the schema does not allow",
    "unevaluatedProperties": lambda v: "has a property the schema does not allow",
    "uniqueItems": lambda v: "has repeated items",
    "oneOf": lambda v: "matches none (or more than one) of the allowed forms",
    "anyOf": lambda v: "matches none of the allowed forms",
    "not": lambda v: "has a form the schema forbids",
    "minProperties": lambda v: f"fewer than {v} properties",
    "maxProperties": lambda v: f"more than {v} properties",
    "dependentRequired": lambda v: "a property that needs another is without it",
}


def _short(value) -> str:
    """An envelope attribute for a reason: these are ids and names, but cap what a producer can put in a log."""
    text = str(value)
    return repr(text if len(text) <= 80 else text[:80] + "…")


class _Validator:
    """A schema compiled to Python for the yes/no, and jsonschema's validator for the reasons.

    jsonschema costs about 0.5 ms an event and every worker checks every
    event it reads; the compiled check costs about 0.02 ms. The compiled one
    is never more lenient (its formats are jsonschema's own checkers, and our
    schemas use only keywords both read alike), so a yes from it is a yes,
    and a no is confirmed by jsonschema, which also says why.
    """

    def __init__(self, schema: dict):
        cls = jsonschema.validators.validator_for(schema)
        self.full = cls(schema, format_checker=cls.FORMAT_CHECKER)
        checker = cls.FORMAT_CHECKER
        formats = {name: functools.partial(_conforms, checker, name) for name in checker.checkers}
        # fastjsonschema reads draft-07, whose keywords are the ones these schemas use.
        draft7 = {k: v for k, v in schema.items() if k not in ("$schema", "$defs")}
        draft7["$schema"] = "http://json-schema.org/draft-07/schema#"
        self._compiled = fastjsonschema.compile(draft7, formats=formats)

    def is_valid(self, instance) -> bool:
        try:
            self._compiled(instance)
        except fastjsonschema.JsonSchemaException:
            return False
        return True


def _conforms(checker, name: str, value) -> bool:
    return checker.conforms(value, name)


@functools.cache
def _validator(schemas_dir: Path, name: str) -> _Validator:
    """One validator per schema file, for the life of the process, with its local ``$ref``s inlined.

    Resolving a ``$ref`` on every use was most of the time the workers spent
    validating events (docs/benchmarks.md); our schemas only point into their
    own ``$defs``, so the same checks are written out in place once.
    """
    schema = json.loads((Path(schemas_dir) / "events" / f"{name}.json").read_text())
    return _Validator(_inline_refs(schema, schema.get("$defs", {}), ()))


# Keywords that only annotate: beside a $ref they change nothing that is checked.
_ANNOTATIONS = {"description", "title", "$comment", "examples", "default"}


def _inline_refs(node, defs: dict, seen: tuple):
    if isinstance(node, list):
        return [_inline_refs(item, defs, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    name = ref.removeprefix("#/$defs/") if isinstance(ref, str) and ref.startswith("#/$defs/") else None
    if name is None or name not in defs or "/" in name or name in seen:  # anything else (or a cycle) stays a $ref
        return {k: (v if k == "$defs" else _inline_refs(v, defs, seen)) for k, v in node.items()}
    target = _inline_refs(defs[name], defs, (*seen, name))
    rest = {k: _inline_refs(v, defs, seen) for k, v in node.items() if k != "$ref"}
    if set(rest) <= _ANNOTATIONS:
        return target
    return {"allOf": [target, rest]}  # a $ref with other checks beside it: both apply, as in 2020-12
