"""Who is asking: checker tokens, manager passwords and signed manager tokens.

Checker tokens are long random secrets; only their SHA-256 is stored (a
slow hash adds nothing to 256 bits of randomness). Manager passwords use
argon2id. A manager's bearer token is signed with the shared QC_SECRET_KEY so
every service can check it without a call to checks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

ROLES = ("site_manager", "regional_manager", "org_admin", "safeguarding_lead", "involvement_lead")
# Organisation-wide roles. The involvement lead runs the checkers programme (people, links, training,
# question sets, reports) everywhere, but is not one of the managers who act on alerts: a worry is
# words about staff or a person's safety, so it reaches only those who must act on it.
ORG_WIDE = ("org_admin", "safeguarding_lead", "involvement_lead")
MANAGER_TOKEN_SALT = _TOKEN_SALT = "qc.manager-token.v1"


class AuthError(Exception):
    """Missing, malformed, expired or wrong credentials."""


@dataclasses.dataclass(frozen=True)
class Principal:
    """A signed-in manager and the part of the organisation they may see."""

    username: str
    role: str
    region_id: str | None = None
    site_id: str | None = None

    def can_see_region(self, region_id: str | None) -> bool:
        """Organisation-wide roles see every region; others only their own."""
        if self.role in ORG_WIDE:
            return True
        return region_id is not None and region_id == self.region_id

    @property
    def reads_alerts(self) -> bool:
        """Alerts (worries among them), their inbox and what needs acting on today: not for the involvement lead."""
        return self.role != "involvement_lead"

    def can_see_site(self, site_id: str, region_id: str | None) -> bool:
        """Site managers see their site; regional managers the sites of their region."""
        if self.role == "site_manager":
            return site_id == self.site_id
        return self.can_see_region(region_id)


def new_checker_token() -> str:
    """A fresh secret for a checker's personal sign-in link."""
    return secrets.token_urlsafe(32)


def hash_checker_token(token: str) -> str:
    """What we store in place of a checker token."""
    return hashlib.sha256(token.encode()).hexdigest()


def password_hasher() -> PasswordHasher:
    """argon2id with the library's (RFC 9106 low-memory) defaults."""
    return PasswordHasher()


def verify_password(hasher: PasswordHasher, stored_hash: str, password: str) -> bool:
    """True when ``password`` matches; never raises on a bad password."""
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclasses.dataclass(frozen=True)
class ManagerToken:
    """A verified manager token: who, when it was signed, and when they signed in (a refreshed session
    cookie is signed again, but keeps the time of the sign-in it came from)."""

    principal: Principal
    signed_at: dt.datetime
    auth_at: dt.datetime


def issue_manager_token(secret_key: str, principal: Principal, auth_at: dt.datetime | None = None) -> str:
    """A signed, timestamped bearer token describing ``principal`` (signed in at ``auth_at``, default now)."""
    claims = {**dataclasses.asdict(principal), "auth_at": int((auth_at or dt.datetime.now(dt.UTC)).timestamp())}
    return URLSafeTimedSerializer(secret_key, salt=_TOKEN_SALT).dumps(claims)


def read_manager_claims(secret_key: str, token: str, max_age: int | None) -> ManagerToken:
    """A verified token signed at most ``max_age`` seconds ago, or AuthError saying why it is not accepted."""
    serializer = URLSafeTimedSerializer(secret_key, salt=_TOKEN_SALT)
    try:
        claims, signed_at = serializer.loads(token, max_age=max_age, return_timestamp=True)
    except SignatureExpired as e:
        raise AuthError("token has expired; sign in again") from e
    except BadSignature as e:
        raise AuthError("token is not valid") from e
    if not isinstance(claims, dict) or claims.get("role") not in ROLES:
        raise AuthError("token is not valid")
    principal = Principal(**{f.name: claims.get(f.name) for f in dataclasses.fields(Principal)})
    auth_at = claims.get("auth_at")
    signed_in = dt.datetime.fromtimestamp(auth_at, dt.UTC) if isinstance(auth_at, int) else signed_at
    return ManagerToken(principal, signed_at, signed_in)


def read_manager_token(secret_key: str, token: str, max_age: int) -> Principal:
    """The principal in a token, or AuthError saying why it is not accepted."""
    return read_manager_claims(secret_key, token, max_age).principal


def bearer_token(authorization_header: str | None) -> str:
    """The token from ``Authorization: Bearer …``, or AuthError."""
    if not authorization_header:
        raise AuthError("missing Authorization header; send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization_header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization header must be 'Bearer <token>'")
    return token.strip()


# A "You said, we did" board link for the people of one site (served by notify, made by checks'
# My checks or by a manager): signed with the shared key, so notify needs no call to checks, and it
# expires. It names who it was given to, so notify can refuse it once that person's links are
# stopped or they are deactivated (the directory tells it when).
_BOARD_SALT = "qc.board-token.v2"
BOARD_TOKEN_MAX_AGE = 30 * 24 * 3600


@dataclasses.dataclass(frozen=True)
class BoardLink:
    """What a board link allows: one site's board, given to ``holder`` ("checker:<id>" or "manager:<username>")."""

    site_id: str
    holder: str
    issued_at: dt.datetime


def issue_board_token(secret_key: str, site_id: str, holder: str) -> str:
    """A signed, timestamped token that lets its holder read one site's board."""
    return URLSafeTimedSerializer(secret_key, salt=_BOARD_SALT).dumps({"site_id": site_id, "holder": holder})


def read_board_token(secret_key: str, token: str, max_age: int = BOARD_TOKEN_MAX_AGE) -> BoardLink:
    """The site and holder of a board token, or AuthError saying why it is not accepted."""
    try:
        claims, signed_at = URLSafeTimedSerializer(secret_key, salt=_BOARD_SALT).loads(
            token, max_age=max_age, return_timestamp=True
        )
    except SignatureExpired as e:
        raise AuthError("this board link has run out") from e
    except BadSignature as e:
        raise AuthError("this board link is not valid") from e
    if not isinstance(claims, dict) or not all(isinstance(claims.get(k), str) for k in ("site_id", "holder")):
        raise AuthError("this board link is not valid")
    return BoardLink(claims["site_id"], claims["holder"], signed_at)
