"""The notify service's API (alerts, "you said, we did" responses, silences, delivery logs) as OpenAPI.

The two request bodies are checked in code (lifecycle.check_response, Silences.create), which says the
same as the schemas here; the fuzz tier sends what these schemas allow and what they do not.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from qc import openapi
from qc.openapi import Output, operation
from services.notify.stores.lifecycle import MAX_RESPONSE
from services.notify.stores.silences import MATCHERS, MAX_DAYS
from services.notify.web.api import STATUSES


class Voice(Output):
    from_ = fields.String(required=True, data_key="from", metadata={"description": "a name only if shared named"})


class Alert(Output):
    id = fields.String(required=True)
    rule = fields.String(required=True)
    severity = fields.String(required=True, metadata={"enum": ["critical", "high", "warning", "info"]})
    status = fields.String(required=True, metadata={"enum": list(STATUSES)})
    site_id = fields.String(required=True)
    summary = fields.String(required=True)
    voices = fields.List(fields.Nested(Voice), required=True, metadata={"description": "who said it"})
    history = fields.List(fields.Dict(), required=True)
    raised_at = fields.String()


class Alerts(Output):
    alerts = fields.List(fields.Nested(Alert), required=True)


class Delivery(Output):
    purpose = fields.String(required=True)
    channel = fields.String(required=True)
    status = fields.String(required=True)
    attempts = fields.Integer(required=True)
    last_error = fields.String(required=True, allow_none=True)
    to = fields.String(required=True, metadata={"description": "a manager's id or a webhook's; never an address"})
    created_at = fields.String(required=True)
    sent_at = fields.String(required=True, allow_none=True)


class Deliveries(Output):
    deliveries = fields.List(fields.Nested(Delivery), required=True)


class Silence(Output):
    id = fields.String(required=True)
    matchers = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    owner = fields.String(required=True)
    reason = fields.String(required=True)
    ends_at = fields.String(required=True)


class Silences(Output):
    silences = fields.List(fields.Nested(Silence), required=True)


class ResolveRequest(Schema):
    response = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_RESPONSE),
        metadata={"description": "what was done, in plain words: the checker sees it"},
    )


class Matchers(Schema):
    rule = fields.String()
    site_id = fields.String()
    region_id = fields.String()


class SilenceRequest(Schema):
    matchers = fields.Nested(
        Matchers, required=True, metadata={"description": f"at least one of {', '.join(MATCHERS)}"}
    )
    ends_at = fields.AwareDateTime(
        required=True, metadata={"description": f"with a time zone; in the future, at most {MAX_DAYS} days away"}
    )
    reason = fields.String(required=True, validate=validate.Length(min=1))


ALERT_ID = openapi.path_parameter("alert_id", "the alert's id")
FILTERS = [
    openapi.query("region_id", "only this region's"),
    openapi.query("site_id", "only this site's"),
    openapi.query("status", "only alerts in this state", enum=STATUSES),
]

PATHS = {
    "/api/v1/alerts": {
        "get": operation(
            "The alerts the signed-in manager may see",
            (200, Alerts, "The alerts, newest first"),
            problems=(400, 403),
            parameters=FILTERS,
            tag="alerts",
        )
    },
    "/api/v1/alerts/{alert_id}": {
        "get": operation(
            "One alert", (200, Alert, "The alert"), problems=(403, 404), parameters=[ALERT_ID], tag="alerts"
        )
    },
    "/api/v1/alerts/{alert_id}/deliveries": {
        "get": operation(
            "Who was told, how, and whether it arrived",
            (200, Deliveries, "The alert's delivery log"),
            problems=(403, 404),
            parameters=[ALERT_ID],
            tag="alerts",
        )
    },
    "/api/v1/alerts/{alert_id}/acknowledge": {
        "post": operation(
            "Say the alert is seen and being dealt with",
            (200, Alert, "The alert, acknowledged"),
            problems=(403, 404, 409),
            parameters=[ALERT_ID],
            tag="alerts",
        )
    },
    "/api/v1/alerts/{alert_id}/resolve": {
        "post": operation(
            'Close the alert with what was done ("you said, we did"): the checker sees the response',
            (200, Alert, "The alert, resolved"),
            problems=(403, 404, 409),
            parameters=[ALERT_ID],
            body=ResolveRequest,
            tag="alerts",
        )
    },
    "/api/v1/silences": {
        "get": operation(
            "Silences in force that may hold back alerts this manager would be told of",
            (200, Silences, "The silences"),
            problems=(403,),
            tag="silences",
        ),
        "post": operation(
            "Hold back alerts matching a rule, site or region until ends_at (never a worry)",
            (201, Silence, "The silence"),
            problems=(403,),
            body=SilenceRequest,
            tag="silences",
        ),
    },
    "/api/v1/silences/{silence_id}": {
        "delete": operation(
            "End a silence early",
            (200, Silence, "The silence, ended"),
            problems=(403, 404),
            parameters=[openapi.path_parameter("silence_id", "the silence's id")],
            tag="silences",
        )
    },
}


bp = openapi.blueprint(
    "Quality checks: alerts",
    "Alerts raised from checks, what managers did about them, silences and delivery logs.",
    PATHS,
)
