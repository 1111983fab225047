"""Rate limits shared by every worker and process: fixed-window counters in MongoDB.

One document per (limit, key, window) is ``$inc``-upserted atomically per
request, so gunicorn workers and separate machines share one count; a TTL
index removes a window's documents once it is over. Keys are HMACs of the
token or address, so the collection holds no secrets or addresses. A fixed
window lets a client send up to twice the limit across a window's edge; that
is fine for stopping floods and password guessing, which is all this is for.

If the database cannot be reached the request is let through (and logged):
the routes limited here need the database anyway and will answer 503 or fail
on their own, and a limiter should never be the reason a check is lost.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import hmac
import logging
import math
import time
from collections.abc import Callable

from flask import current_app, request
from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from qc import web
from qc.settings import Settings

log = logging.getLogger(__name__)
EXTENSION = "qc.ratelimit"
WINDOW_SECONDS = 60
CHECKER_COOKIE = "qc_checker"


@dataclasses.dataclass(frozen=True)
class Decision:
    """The outcome of counting one request against one limit."""

    allowed: bool
    count: int
    limit: int
    retry_after: int


class RateLimiter:
    """Counts requests per key in the ``rate_limits`` collection."""

    def __init__(self, db: Database, secret_key: str, *, window_seconds: int = WINDOW_SECONDS, clock=time.time):
        self.collection = db["rate_limits"]
        self.secret = secret_key.encode()
        self.window = window_seconds
        self.clock = clock
        self._indexed = False

    def ensure_indexes(self) -> None:
        """The TTL index that removes finished windows."""
        self.collection.create_index("expires_at", expireAfterSeconds=0)
        self._indexed = True

    def hit(self, name: str, key: str, limit: int) -> Decision:
        """Count one request for ``key`` under limit ``name``; allowed while the window's count <= ``limit``."""
        if not self._indexed:
            self.ensure_indexes()
        now = self.clock()
        window = int(now // self.window)
        ends = (window + 1) * self.window
        doc_id = f"{name}:{self._digest(key)}:{window}"
        update = {
            "$inc": {"count": 1},
            # A little after the window ends, so a slow clock elsewhere still finds it.
            "$setOnInsert": {"expires_at": dt.datetime.fromtimestamp(ends + self.window, dt.UTC)},
        }
        try:
            doc = self.collection.find_one_and_update(
                {"_id": doc_id}, update, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:
            # Two first requests of a window raced to insert; the loser now finds the document.
            doc = self.collection.find_one_and_update({"_id": doc_id}, update, return_document=ReturnDocument.AFTER)
        count = int(doc["count"])
        return Decision(count <= limit, count, limit, max(1, math.ceil(ends - now)))

    def _digest(self, key: str) -> str:
        return hmac.new(self.secret, key.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:32]


def client_address(settings: Settings) -> str:
    """The client's address; behind ``trusted_proxy_hops`` proxies, read from X-Forwarded-For."""
    hops = settings.trusted_proxy_hops
    if hops > 0:
        forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",") if a.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.remote_addr or "unknown"


def by_address(settings: Settings) -> str | None:
    """Key: the client address."""
    return "address:" + client_address(settings)


def by_checker_token(settings: Settings) -> str | None:
    """Key: the checker's bearer token, or their sign-in cookie; None when there is neither."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "token:" + token.strip()
    cookie = request.cookies.get(CHECKER_COOKIE)
    return "token:" + cookie if cookie else None


def limit(name: str, *rules: tuple[Callable[[Settings], str | None], str], page: Callable | None = None):
    """Refuse a view's requests over the limits: each rule is (key function, name of a per-minute setting).

    Rules are counted in order and counting stops at the first refusal, so a
    flood refused by address does not also fill the token counters. A refused
    JSON request gets a 429 problem document; with ``page`` (a function of the
    seconds to wait) a form post gets that page instead.
    """

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            limiter: RateLimiter | None = current_app.extensions.get(EXTENSION)
            settings: Settings = current_app.extensions["qc.settings"]
            # Only sends count: reading a page of a limited route is never refused.
            if limiter is not None and request.method not in ("GET", "HEAD"):
                for key_of, setting in rules:
                    refused = _check(limiter, settings, name, key_of, getattr(settings, setting))
                    if refused is not None:
                        return _refuse(refused, page)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _check(limiter: RateLimiter, settings: Settings, name: str, key_of, per_minute: int) -> Decision | None:
    key = key_of(settings)
    if key is None or per_minute <= 0:  # 0 turns a limit off
        return None
    try:
        decision = limiter.hit(f"{name}:{key.split(':', 1)[0]}", key, per_minute)
    except PyMongoError as e:
        log.warning("rate limit not checked: database unavailable", extra={"limit": name, "error": repr(e)})
        return None
    if decision.allowed:
        return None
    log.warning("rate limit reached", extra={"limit": name, "by": key.split(":", 1)[0], "count": decision.count})
    return decision


def _refuse(decision: Decision, page: Callable | None):
    headers = {"Retry-After": str(decision.retry_after)}
    if page is not None and not request.is_json:
        response = current_app.make_response(page(decision.retry_after))
        response.status_code = 429
        response.headers.update(headers)
        return response
    return web.problem(
        429,
        "Too many requests",
        f"More than {decision.limit} requests in a minute. Wait {decision.retry_after} seconds, then try again.",
        headers=headers,
    )


def wait_words(seconds: int) -> str:
    """How long to wait, in plain words for a page."""
    if seconds <= 60:
        return "a minute"
    return f"{math.ceil(seconds / 60)} minutes"
