"""Rate limits on Flask views: the ``limit`` decorator, what each limit is keyed by, and the words of a refusal.

The counting itself (shared and per-process, fixed windows) is ``qc.ratelimit.RateLimiter``; an app
puts its limiter in ``app.extensions[EXTENSION]``.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable

from flask import current_app, request
from pymongo.errors import PyMongoError

from qc import web
from qc.ratelimit import Decision, RateLimiter
from qc.settings import Settings

log = logging.getLogger(__name__)
EXTENSION = "qc.ratelimit"
CHECKER_COOKIE = "qc_checker"


def client_address(settings: Settings) -> str:
    """The client's address; behind ``trusted_proxy_hops`` proxies, the one they forwarded.

    qc.web installs werkzeug's ProxyFix with that hop count, so ``remote_addr`` is already it.
    """
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


def limit(
    name: str,
    *rules: tuple[Callable[[Settings], str | None], str],
    page: Callable | None = None,
    shared: bool = True,
):
    """Refuse a view's requests over the limits: each rule is (key function, name of a per-minute setting).

    ``shared=False`` counts in this process only (see the module's docstring for what that lets through).

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
                    refused = _check(limiter, settings, name, key_of, getattr(settings, setting), shared)
                    if refused is not None:
                        return _refuse(refused, page)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _check(limiter: RateLimiter, settings: Settings, name: str, key_of, per_minute: int, shared: bool):
    key = key_of(settings)
    if key is None or per_minute <= 0:  # 0 turns a limit off
        return None
    count = limiter.hit if shared else limiter.hit_here
    try:
        decision = count(f"{name}:{key.split(':', 1)[0]}", key, per_minute)
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
