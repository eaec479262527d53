"""Tokens and the tenant check: the only place a token meets a tenant.

Token classes are django-ninja-jwt's, for their claims (type, exp, iat, jti and ours), without
implicit database checks; signatures are the client's own key pair's (signing.jws: `kid` and
`iss`, SPEC §9). ninja-jwt's RefreshToken checks the blacklist on construction and records
itself as outstanding only from `for_user`; here tokens are made in exactly two ways:
`issue_pair` (always recorded as outstanding, whether at login, register or rotation) and
`decode` (signature by this client's key, expiry and type only). Blacklist checks are explicit
steps in authapi.sessions.

`token_for_client` is the chokepoint every token passes: it refuses a token of another client
exactly like a forged one, and insists that the database connection is in that client's schema,
so no token is ever checked against another tenant's rows. `api_token_for_client` is the same
chokepoint for static API keys (`Authorization: Token tat_…`), which live in their client's
schema: a key of another client is simply not there.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.utils import timezone
from ninja_jwt.exceptions import TokenError
from ninja_jwt.token_blacklist.models import OutstandingToken
from ninja_jwt.tokens import AccessToken, RefreshToken, Token
from ninja_jwt.utils import aware_utcnow, datetime_from_epoch, datetime_to_epoch

from authapi import selectors
from authapi.models import ApiToken, Session, User
from core import hotpath
from core.errors import NotAuthenticated
from core.hotpath.memo import VerifiedMemo
from core.tenancy import current_schema_name
from signing.jws import SignatureInvalid, jwt_encode, jwt_verify, kid_still_verifies
from tenants.models import Client

__all__ = [
    "AccessToken",
    "ClientRefreshToken",
    "IssuedPair",
    "TenantMismatch",
    "Token",
    "TokenError",
    "api_token_for_client",
    "decode",
    "invalid_token",
    "issue_pair",
    "session_id_of",
    "token_digest",
    "token_for_client",
    "user_for_token",
]

CLIENT_ID = "client_id"
CLIENT_NAME = "client_name"
SESSION_ID = "sid"
MAX_TOKEN_LENGTH = 4096
API_KEY_PREFIX = "tat_"
# "tat_" and 32 or more random bytes, url-safe base64 without padding (43+ characters).
_API_KEY = re.compile(r"tat_[A-Za-z0-9_-]{43,96}")


class ClientRefreshToken(RefreshToken):
    def check_blacklist(self) -> None:
        """Blacklist checks are explicit (and atomic) in the services, not a side effect here."""


class TenantMismatch(RuntimeError):
    """A token was checked while the connection is in another schema than its client's: a bug,
    never a client's doing, and never answered with another tenant's rows."""


def invalid_token() -> NotAuthenticated:
    return NotAuthenticated("Token is invalid or expired", code="token_not_valid")


def token_digest(raw: str) -> str:
    """What is stored of a token: its SHA-256, never the token (SPEC §7)."""
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedPair:
    access: str
    refresh: str
    refresh_jti: str
    access_expires_at: datetime


def issue_pair(user: User, client: Client, session: Session, *, issuer: str) -> IssuedPair:
    """A new pair for `user` of `client` in `session`, signed with the client's key and issued
    by `issuer`: both tokens carry the session's id as `sid` and expire no later than it does;
    the refresh is recorded as outstanding with its user (by jti and digest) so it can be
    listed and revoked later."""
    refresh = ClientRefreshToken()
    refresh["user_id"] = user.pk
    refresh[CLIENT_ID] = client.pk
    refresh[CLIENT_NAME] = client.name
    refresh[SESSION_ID] = str(session.pk)
    refresh["iss"] = issuer
    ends = datetime_to_epoch(session.expires_at)
    if refresh["exp"] > ends:  # rotation never extends a session's lifetime
        refresh["exp"] = ends
    access = refresh.access_token
    if access["exp"] > ends:
        access["exp"] = ends
    raw_refresh = jwt_encode(refresh.payload, client)
    OutstandingToken.objects.create(
        user=user,
        jti=refresh["jti"],
        token=token_digest(raw_refresh),
        created_at=refresh.current_time,
        expires_at=datetime_from_epoch(refresh["exp"]),
    )
    return IssuedPair(
        access=jwt_encode(access.payload, client),
        refresh=raw_refresh,
        refresh_jti=refresh["jti"],
        access_expires_at=datetime_from_epoch(access["exp"]),
    )


# Frontends send the same access token on every request until it expires: its signature and
# claims are checked once per process, later only its expiry (core.hotpath, "tokens"). Refresh
# tokens are single use, so remembering them would only crowd the memo.
_verified = VerifiedMemo(
    "tokens", max_entries=settings.TOKEN_CACHE_SIZE, enabled=hotpath.enabled("tokens")
)


def decode(raw: object, token_class: type[Token], client: Client) -> Token:
    """Signature by one of `client`'s keys, expiry and token type; raises TokenError. Never
    touches the database once the client's keys are loaded (signing.keyring)."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_TOKEN_LENGTH:
        raise TokenError("Token is invalid or expired")
    memo = token_class is AccessToken
    known = _verified.get(raw) if memo else None
    if known is not None:
        # A retired key (rotate_signing_key --retire-previous) takes its tokens with it.
        if not kid_still_verifies(client, known["kid"], known["payload"]):
            raise TokenError("Token is invalid or expired")
        return _token(token_class, raw, dict(known["payload"]), check_exp_only=True)
    try:
        payload, kid = jwt_verify(raw, client)
    except SignatureInvalid:
        raise TokenError("Token is invalid or expired") from None
    try:
        token = _token(token_class, raw, payload, check_exp_only=False)
    except TokenError:
        raise
    except Exception as exc:  # malformed claims (e.g. a non-numeric exp) must not be a 500
        raise TokenError("Token is invalid or expired") from exc
    if memo:
        _verified.put(
            raw,
            {"kid": kid, "payload": MappingProxyType(dict(token.payload))},
            expires_at=token.payload["exp"],
        )
    return token


def _token(
    token_class: type[Token], raw: str, payload: dict[str, Any], *, check_exp_only: bool
) -> Token:
    token = token_class.__new__(token_class)
    token.token = raw
    token.current_time = aware_utcnow()
    token.payload = payload
    if check_exp_only:
        token.check_exp()  # the only check whose answer changes with time
    else:
        token.verify()  # exp, jti and the token type (access vs refresh)
    return token


def _check_schema(client: Client) -> None:
    if current_schema_name() != client.schema_name:
        raise TenantMismatch(
            f"token of client {client.pk} checked in schema {current_schema_name()!r}"
        )


def token_for_client(raw: object, token_class: type[Token], client: Client) -> Token:
    """Decode `raw` as `token_class` and insist it was issued for `client`, the client whose
    schema the connection is in."""
    _check_schema(client)
    try:
        token = decode(raw, token_class, client)
    except TokenError:
        raise invalid_token() from None
    claim = token.payload.get(CLIENT_ID)
    if type(claim) is not int or claim != client.pk:
        raise invalid_token()
    return token


def user_for_token(token: Token) -> User:
    """The existing, active user the token names, in the current schema, and — for a token that
    carries a session — that session still live; else 401. A token issued before sessions
    existed carries none and is accepted until it expires."""
    user_id = token.payload.get("user_id")
    user = selectors.user_get_active(user_id=user_id) if selectors.valid_user_id(user_id) else None
    if user is None:
        raise invalid_token()
    sid = token.payload.get(SESSION_ID)
    if sid is not None:
        session = selectors.session_get_live(sid=sid) if selectors.valid_session_id(sid) else None
        if session is None or session.user_id != user.pk or session.expires_at <= timezone.now():
            raise invalid_token()
    return user


def session_id_of(token: Token) -> str | None:
    """The token's session id (checked by user_for_token), or None for one issued before
    sessions existed."""
    sid = token.payload.get(SESSION_ID)
    return sid if isinstance(sid, str) else None


def api_token_for_client(raw: str, client: Client) -> tuple[ApiToken, User]:
    """The live API key `raw` of `client` and its active user; else 401 like a bad Bearer (a
    malformed, unknown, deleted or expired key, another client's key, an inactive user)."""
    _check_schema(client)
    if not _API_KEY.fullmatch(raw):
        raise invalid_token()
    key = selectors.api_token_get_by_digest(digest=token_digest(raw))
    if key is None or (key.expires_at is not None and key.expires_at <= timezone.now()):
        raise invalid_token()
    user = selectors.user_get_active(user_id=key.user_id)
    if user is None:
        raise invalid_token()
    return key, user
