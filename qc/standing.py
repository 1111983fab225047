"""Whether a manager's signed token still stands: revocation without a call to another service.

A manager token is signed, so any service can verify it alone; that also means
it cannot be taken back by forgetting it. Instead each service keeps the
managers it learns from ``qc.directory`` (role, region, site, active, and
``tokens_valid_after``, which sign-out, a role change and deactivation move
to "now"), and refuses a token that no longer matches. Looked up at most every
``cache_seconds`` per username and process, so a change takes effect within
that time after its directory event arrives (a minute at most in practice).

A username this service has not heard of is accepted: tokens are only ever
made at sign-in for a person in the directory, people are never deleted
(deactivation is ``active: false``), and a new manager's event may still be
on its way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from qc.auth import AuthError, ManagerToken

CACHE_SECONDS = 30.0


class Standing:
    """Checks tokens against ``lookup(username) -> record | None`` (role, region_id, site_id, active,
    tokens_valid_after)."""

    def __init__(self, lookup: Callable[[str], dict | None], cache_seconds: float = CACHE_SECONDS):
        self.lookup, self.cache_seconds = lookup, cache_seconds
        self._cache: dict[str, tuple[float, dict | None]] = {}
        self._lock = threading.Lock()

    def check(self, token: ManagerToken) -> None:
        """AuthError when the person behind ``token`` is deactivated, changed role or scope, or signed out since."""
        principal = token.principal
        record = self._record(principal.username)
        if record is None:
            return
        if not record.get("active", True):
            raise AuthError("this account is no longer active")
        for field in ("role", "region_id", "site_id"):
            if (record.get(field) or None) != (getattr(principal, field) or None):
                raise AuthError("your role or area has changed; sign in again")
        valid_after = record.get("tokens_valid_after")
        # Token times are whole seconds: one signed in the same second as the sign-out still stands.
        if valid_after is not None and token.signed_at < valid_after.replace(microsecond=0):
            raise AuthError("you have signed out; sign in again")

    def forget(self, username: str) -> None:
        """Look this person up afresh next time (this process just changed them)."""
        with self._lock:
            self._cache.pop(username, None)

    def _record(self, username: str) -> dict | None:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(username)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        record = self.lookup(username)
        with self._lock:
            if len(self._cache) > 10_000:  # bounded: usernames come from signed tokens only, but still
                self._cache.clear()
            self._cache[username] = (now, record)
        return record
