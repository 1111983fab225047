"""Telling the checkers about an action: each change is published as ``org.qc.action.changed`` on qc.actions.

checks puts it on My checks beside each check that said what the action is about (services/checks/
action_news.py). An action is stored first and marked "told" once the broker has the event; one the
broker could not take (it was down) is told by the worker's scheduler on its next run, so the checker
hears of every change, late rather than never. Each change has its own event id: a repeat is one event.
"""

from __future__ import annotations

from qc import events, told
from qc.settings import TOPICS
from services.notify.stores.actions import Actions


def changed_event(action: dict) -> dict:
    """The event for an action as it stands: the managers' words only (what, what was done, or why not)."""
    data = {
        "action_id": action["_id"],
        "site_id": action["site_id"],
        "region_id": action.get("region_id"),
        "about": {k: v for k, v in action["about"].items() if k in ("kind", "id", "words")},
        "period": action.get("period"),
        "status": action["status"],
        "what": action["what"],
        "due_on": action["due_on"],
        "created_at": events.isoformat(action["created_at"]),
        "at": events.isoformat(action.get("changed_at") or action["created_at"]),
    }
    if action["status"] == "done":
        data["done_words"] = action["done_words"]
    elif action["status"] == "wont_do":
        data["reason"] = action["reason"]
    return events.make_event(
        "org.qc.action.changed",
        source="qc/notify/actions",
        subject=action["_id"],
        data=data,
        event_id=f"{action['_id']}:{len(action.get('history', []))}",
    )


def tell(publisher, store: Actions, action: dict) -> bool:
    """Publish the action's change and mark it told; False (logged) when the broker did not take it."""
    event = changed_event(action)
    return told.tell(publisher, TOPICS["actions"], action["_id"], event, lambda: store.mark_told(action))


def tell_untold(publisher, store: Actions) -> int:
    """Publish every change not published yet (the broker was down when it was made); returns how many."""
    return told.tell_each(store.untold(), lambda action: tell(publisher, store, action))
