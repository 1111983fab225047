"""What notify's routes share: the per-process context and who may see which alert."""

from __future__ import annotations

import dataclasses

from flask import abort, current_app, g
from pymongo.collection import Collection

from qc import events, web
from qc.kafka import Publisher
from qc.settings import Settings
from services.notify.rules import consent
from services.notify.stores.actions import Actions
from services.notify.stores.alerts import AlertStore
from services.notify.stores.fix_feedback import FixFeedback
from services.notify.stores.reports import Reports
from services.notify.stores.silences import Silences


@dataclasses.dataclass
class Context:
    """Built once per worker process by create_app."""

    settings: Settings
    store: AlertStore
    silences: Silences
    deliveries: Collection  # the deliveries collection (read-only here: the log)
    sites: Collection  # notify_sites, for names
    publisher: Publisher
    contacts: Collection | None = None  # people from the directory, for the names checkers agreed to show
    feedback: FixFeedback | None = None  # "is it better now?" answers, for the board
    actions: Actions | None = None  # what managers are doing about what people said
    regions: Collection | None = None  # notify_regions: names and check intervals
    reports: Reports | None = None  # right-of-reply drafts waiting for replies (aggregate's, as events tell)
    safety_rules: frozenset = frozenset()  # ids of the rules about safety: silenced only by a regional manager or above


def ctx() -> Context:
    """This app's context."""
    return current_app.extensions["qc.notify"]


def require_alert_reader() -> None:
    """A 403 unless the signed-in manager is one who acts on alerts: never the involvement lead (qc.auth)."""
    if not g.principal.reads_alerts:
        abort(web.forbidden("alerts"))


def scope_query() -> dict:
    """The alerts (and actions) the signed-in manager may see; none, and a 403, for a role that reads no alerts."""
    require_alert_reader()
    principal = g.principal
    if principal.role == "site_manager":
        return {"site_id": principal.site_id}
    if principal.role == "regional_manager":
        return {"region_id": principal.region_id}
    return {}


def visible(alert_id: str) -> dict | None:
    """The alert if it exists and the manager may see it, else None (no hint which)."""
    alert = ctx().store.get(alert_id)
    if alert is None or any(alert.get(k) != v for k, v in scope_query().items()):
        return None
    return alert


def public(alert: dict, names: dict[str, str] | None = None) -> dict:
    """An alert as the API shows it; ``names`` (consent.names_for) saves a look-up per alert in a list."""
    # Who raised a concern stays out of what managers see (many checkers fear
    # repercussions) unless they agreed to be named for that answer (consent.py);
    # only an alert asking someone to help a checker names them regardless.
    hidden = {"_id", "notify", "escalate_at", "checker_ids", "voices"}
    helping = alert.get("rule") == "repeated_rejections"
    if not helping:
        hidden.add("checker_id")
    out = {k: v for k, v in alert.items() if k not in hidden}
    out["id"] = alert["_id"]
    contacts = ctx().contacts
    if names is None:
        names = consent.names_for(contacts, [alert])
    out["voices"] = consent.public_voices(alert, names)
    if helping and alert.get("checker_id") and contacts is not None:
        person = contacts.find_one({"_id": alert["checker_id"]}) or {}
        out["checker_name"] = person.get("name")
    for key in ("raised_at", "acknowledged_at", "resolved_at", "escalated_at"):
        if alert.get(key):
            out[key] = events.isoformat(alert[key])
    out["history"] = [{**h, "at": events.isoformat(h["at"])} for h in alert.get("history", [])]
    return out


def recipient(delivery: dict) -> str:
    """Who a delivery went to, as a manager may see it."""
    if delivery.get("purpose") == "response":
        # A supporter's note is filed under the checker's id: show neither the id nor the address.
        return "the checker's supporter"
    return delivery.get("person_id") or delivery.get("hook_id") or ""
