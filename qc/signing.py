"""Signed directory events: only the directory's owner can tell the other services who people are.

``qc.directory`` says who the safeguarding lead is (and their address), who
manages which site, and whose links and tokens were stopped. Anyone who can
write to the topic could otherwise redirect worries or revive stopped access,
so checks signs each directory event with a key derived from
``QC_SECRET_KEY`` (CloudEvents extension attribute ``qcsignature``: HMAC-SHA256
over the event's type, subject and data), and aggregate and notify apply only
events whose signature checks; any other is dead-lettered with the reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from qc.events import EventError

SIGNATURE = "qcsignature"
# The event types only their owner may publish: the consumer loop dead-letters any without a valid signature.
SIGNED_TYPES = frozenset({"org.qc.directory.changed"})


class UntrustedEvent(EventError):
    """An event that must be signed is not, or its signature does not match."""


def _digest(secret_key: str, event: dict) -> str:
    key = hmac.new(secret_key.encode(), b"qc.directory-signing.v1", hashlib.sha256).digest()
    body = json.dumps(
        [event["type"], event["subject"], event["data"]], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return "sha256=" + hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def sign(secret_key: str, event: dict) -> dict:
    """The event with its signature added."""
    return {**event, SIGNATURE: _digest(secret_key, event)}


def verify(secret_key: str, event: dict) -> None:
    """UntrustedEvent unless the event carries a signature made with our key (or needs none)."""
    if event.get("type") not in SIGNED_TYPES:
        return
    sent = event.get(SIGNATURE)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, _digest(secret_key, event)):
        raise UntrustedEvent("directory event without a valid signature: not applied")
