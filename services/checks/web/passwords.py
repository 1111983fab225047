"""Managers' password check: the same work for a name we do not know, a rehash when argon2's settings
move on, and every sign-in written to the log (who, whether it worked, where from; never the password)."""

from __future__ import annotations

import functools
import logging
import secrets

from argon2 import PasswordHasher

from qc import auth

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _unknown_user_hash(hasher: PasswordHasher) -> str:
    # Checked against when the username is unknown, so a wrong name takes as long as a wrong password.
    return hasher.hash(secrets.token_urlsafe(24))


def check_manager_password(directory, hasher: PasswordHasher, username: str, password: str, via: str) -> dict | None:
    """The active manager with this username and password, or None (the log says which sign-in failed)."""
    person = directory.manager_by_username(username) if username else None
    stored = person["password_hash"] if person else _unknown_user_hash(hasher)
    ok = auth.verify_password(hasher, stored, password) and person is not None
    shown = "".join(c for c in username[:64] if c.isprintable())
    if not ok:
        log.warning("manager sign-in refused", extra={"username": shown, "via": via})
        return None
    if hasher.check_needs_rehash(stored):
        directory.people.update_one({"_id": person["_id"]}, {"$set": {"password_hash": hasher.hash(password)}})
    log.info("manager signed in", extra={"username": shown, "role": person["role"], "via": via})
    return person
