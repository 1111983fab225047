"""What every Flask service shares: problem documents, ops routes, request metrics, manager auth."""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import logging
import time
from collections.abc import Callable
from urllib.parse import urlencode, urlparse

from flask import Blueprint, Flask, Response, current_app, g, jsonify, redirect, request
from pymongo.errors import ConnectionFailure
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from qc import auth, metrics
from qc import readiness as ready
from qc.settings import Settings

log = logging.getLogger(__name__)
# How long a client is asked to wait when a dependency is down (the intake API says the same).
RETRY_AFTER_SECONDS = 30
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def problem(status: int, title: str, detail: str, *, headers=None, **extra) -> Response:
    """An RFC 9457 problem document."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.content_type = "application/problem+json"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def install(app: Flask, service: str, settings: Settings, readiness: dict[str, Callable]) -> None:
    """Add /healthz, /readyz, /metrics, request metrics and problem-document errors."""
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["qc.settings"] = settings
    # Under `make run`: not ready while a process this service needs keeps crashing (qc_tools/supervisor.py).
    readiness = {**readiness, "processes": ready.processes_ready(settings, service)}
    app.register_blueprint(_ops_blueprint(service, settings, readiness))
    if settings.trusted_proxy_hops > 0:
        # Behind the proxy: the client's address, scheme and host are the ones it forwards, so
        # cookies are Secure and HSTS is sent when the client used https. Only that many hops are
        # trusted; a client's own X-Forwarded-* headers beyond them are ignored.
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    manager_csp = _manager_csp(settings)

    @app.after_request
    def _security_headers(response: Response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        refreshed = g.get("qc_refreshed_session")
        if refreshed and MANAGER_COOKIE not in "".join(response.headers.getlist("Set-Cookie")):
            set_session_cookie(response, settings, refreshed)
        if request.path.startswith(("/manager", "/api/")):
            # Alerts, worries and names: never kept in a browser's cache, never framed, never passed on.
            headers["Cache-Control"] = "no-store"
            headers.setdefault("Content-Security-Policy", manager_csp)
            headers.setdefault("Referrer-Policy", "no-referrer")
            headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.before_request
    def _start_timer():
        g.qc_started = time.perf_counter()

    @app.after_request
    def _record(response: Response):
        route = request.url_rule.rule if request.url_rule else "unmatched"
        if route != "/metrics":
            elapsed = time.perf_counter() - g.get("qc_started", time.perf_counter())
            # Anyone can send any method name: unknown ones share one label, so they cannot add series.
            method = request.method if request.method in KNOWN_METHODS else "other"
            metrics.HTTP_REQUESTS.labels(service, route, method, str(response.status_code)).inc()
            metrics.HTTP_DURATION.labels(service, route, method).observe(elapsed)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        detail = error.description or error.name
        if error.code == 413:
            detail = f"The request body is larger than {settings.max_body_bytes} bytes."
        return problem(error.code or 500, error.name, detail)

    @app.errorhandler(ConnectionFailure)
    def _database_down(error: ConnectionFailure):
        # The database is unreachable (pymongo gave up after mongo_timeout_ms):
        # ask the client to try again (Retry-After) rather than say 500.
        log.warning("database unavailable", extra={"error": repr(error)[:300], "route": _route()})
        return database_unavailable()


def _manager_csp(settings: Settings) -> str:
    """The manager pages' Content-Security-Policy: only this service's own scripts; forms may go to
    the three services (one origin behind the proxy, three ports under `make run`)."""
    urls = (settings.checks_public_url, settings.aggregate_public_url, settings.notify_public_url)
    origins = sorted({f"{u.scheme}://{u.netloc}" for u in map(urlparse, urls) if u.scheme in ("http", "https")})
    return (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        f"form-action 'self' {' '.join(origins)}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )


def _route() -> str:
    return request.url_rule.rule if request.url_rule else "unmatched"


def database_unavailable() -> Response:
    """503 with Retry-After: the database cannot be reached just now."""
    return problem(
        503,
        "Please try again soon",
        "We cannot reach our database just now. Please try again in a minute.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        unavailable="database",
    )


def _ops_blueprint(service: str, settings: Settings, readiness: dict[str, Callable]) -> Blueprint:
    ops = Blueprint("ops", __name__)

    @ops.get("/healthz")
    def healthz():
        """Alive: the process answers."""
        return {"status": "ok", "service": service}

    @ops.get("/readyz")
    def readyz():
        """Ready: every dependency answers; 503 naming those that do not, or while shutting down."""
        if current_app.extensions.get("qc.draining"):
            # Set on SIGTERM (qc_tools/gunicorn_conf.py): the worker still answers
            # for a moment but wants no new work, whatever its dependencies say.
            return problem(503, "Not ready", "This instance is shutting down.", down={"self": "shutting down"})
        down = {}
        for name, check in readiness.items():
            try:
                check()
            except Exception as e:  # any failure means "not ready"
                down[name] = f"{type(e).__name__}: {e}"[:200]
        if down:
            return problem(503, "Not ready", "Some dependencies are unavailable.", down=down)
        return {"status": "ready", "service": service, "checked": sorted(readiness)}

    @ops.get("/metrics")
    def metrics_route():
        """Prometheus text exposition."""
        body, content_type = metrics.exposition(settings.multiproc_dir, ready.supervisor_state(settings))
        return Response(body, content_type=content_type)

    return ops


MANAGER_COOKIE = "qc_manager"
# A session cookie in use is signed again after this long, so the idle limit counts from the last use.
SESSION_REFRESH_SECONDS = 60
STANDING = "qc.standing"  # app.extensions key: a qc.standing.Standing over this service's managers


def current_principal(settings: Settings) -> auth.Principal:
    """The manager behind the bearer token, or (for reading only) the session cookie; AuthError if none."""
    header = request.headers.get("Authorization")
    if header:
        return verify_manager_token(settings, auth.bearer_token(header), from_cookie=False)
    if request.method in ("GET", "HEAD") and request.cookies.get(MANAGER_COOKIE):
        # The cookie only ever authorises reads: a change needs the bearer
        # token or a page form with its own CSRF protection.
        return verify_manager_token(settings, request.cookies[MANAGER_COOKIE], from_cookie=True)
    raise auth.AuthError("missing Authorization header; send 'Authorization: Bearer <token>'")


def verify_manager_token(settings: Settings, token: str, from_cookie: bool = False) -> auth.Principal:
    """The principal of a token that is signed, in time, and still stands (qc.standing); else AuthError.

    A bearer token lasts ``token_ttl_seconds`` from when it was made. A session cookie also ends after
    ``manager_idle_minutes`` without use, and is signed again as it is used (same sign-in time), so
    the whole session still ends ``token_ttl_seconds`` after signing in.
    """
    if not from_cookie:
        verified = auth.read_manager_claims(settings.secret_key, token, settings.token_ttl_seconds)
    else:
        verified = auth.read_manager_claims(settings.secret_key, token, settings.manager_idle_minutes * 60)
        age = (dt.datetime.now(dt.UTC) - verified.auth_at).total_seconds()
        if age > settings.token_ttl_seconds:
            raise auth.AuthError("token has expired; sign in again")
    standing = current_app.extensions.get(STANDING)
    if standing is not None:
        standing.check(verified)
    if from_cookie:
        signed_for = (dt.datetime.now(dt.UTC) - verified.signed_at).total_seconds()
        if signed_for > SESSION_REFRESH_SECONDS:
            g.qc_refreshed_session = auth.issue_manager_token(settings.secret_key, verified.principal, verified.auth_at)
    return verified.principal


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    """The manager's session cookie: HttpOnly, SameSite=Lax, Secure over https, for the whole session."""
    response.set_cookie(
        MANAGER_COOKIE,
        token,
        max_age=settings.token_ttl_seconds,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )


def require_manager(view):
    """Let a view run only for a signed-in manager; the principal is in ``g.principal``."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            g.principal = current_principal(current_app.extensions["qc.settings"])
        except auth.AuthError as e:
            return problem(401, "Not signed in", str(e), headers={"WWW-Authenticate": 'Bearer realm="qc"'})
        return view(*args, **kwargs)

    return wrapper


def manager_csrf_token(settings: Settings, session_token: str) -> str:
    """The CSRF token for a manager's page forms: bound to their sign-in, so it cannot be guessed.

    Bound to who signed in and when (not the cookie's exact value), so it survives the cookie being
    signed again as the session is used.
    """
    try:
        verified = auth.read_manager_claims(settings.secret_key, session_token, None)
        bound = f"{verified.principal.username}:{int(verified.auth_at.timestamp())}"
    except auth.AuthError:
        bound = session_token
    return hmac.new(settings.secret_key.encode(), f"qc.manager-csrf.v2:{bound}".encode(), "sha256").hexdigest()


def request_csrf_token() -> str:
    """The CSRF token for the manager signed in on this request, for the forms on the page being drawn."""
    return manager_csrf_token(current_app.extensions["qc.settings"], request.cookies.get(MANAGER_COOKIE, ""))


def require_manager_form(view):
    """A page form POST: the session cookie plus a matching ``csrf_token`` field; else back to sign-in or 400."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        settings: Settings = current_app.extensions["qc.settings"]
        session = request.cookies.get(MANAGER_COOKIE, "")
        try:
            g.principal = verify_manager_token(settings, session, from_cookie=True)
        except auth.AuthError:
            target = f"{settings.checks_public_url.rstrip('/')}/manager/sign-in"
            return redirect(target, code=303)
        sent = request.form.get("csrf_token", "")
        if not hmac.compare_digest(sent, manager_csrf_token(settings, session)):
            return problem(400, "Please try again", "The form had expired. Go back, reload the page and try again.")
        return view(*args, **kwargs)

    return wrapper


def require_manager_page(view):
    """Like require_manager, but a person without a session is sent to the sign-in page."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        settings: Settings = current_app.extensions["qc.settings"]
        try:
            g.principal = current_principal(settings)
        except auth.AuthError:
            target = f"{settings.checks_public_url.rstrip('/')}/manager/sign-in?{urlencode({'next': request.url})}"
            return redirect(target, code=303)
        return view(*args, **kwargs)

    return wrapper


def forbidden(what: str) -> Response:
    """403 for a manager asking outside their part of the organisation."""
    return problem(403, "Not allowed", f"You do not have access to {what}.")
