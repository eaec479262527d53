"""Token classes: django-ninja-jwt's, with the client claims and without implicit DB checks.

ninja-jwt's RefreshToken checks the blacklist on construction and records itself as outstanding
only from `for_user`. We construct tokens in exactly two ways: `issue_pair` (always recorded as
outstanding, whether at login, register or rotation) and `decode` (signature, expiry and type
only); blacklist and user checks are explicit steps in authapi.services.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from ninja_jwt.exceptions import TokenError
from ninja_jwt.token_blacklist.models import OutstandingToken
from ninja_jwt.tokens import AccessToken, RefreshToken, Token
from ninja_jwt.utils import aware_utcnow, datetime_from_epoch

from authapi.models import User
from tenants.models import Client

__all__ = ["AccessToken", "ClientRefreshToken", "TokenError", "decode", "issue_pair"]

CLIENT_ID = "client_id"
CLIENT_NAME = "client_name"


class ClientRefreshToken(RefreshToken):
    def check_blacklist(self) -> None:
        """Blacklist checks are explicit (and atomic) in the services, not a side effect here."""


def issue_pair(user: User, client: Client) -> tuple[str, str]:
    """A new (access, refresh) pair for `user` of `client`; the refresh is recorded as
    outstanding with its user so it can be listed and revoked later."""
    refresh = ClientRefreshToken()
    refresh["user_id"] = user.pk
    refresh[CLIENT_ID] = client.pk
    refresh[CLIENT_NAME] = client.name
    OutstandingToken.objects.create(
        user=user,
        jti=refresh["jti"],
        token=str(refresh),
        created_at=refresh.current_time,
        expires_at=datetime_from_epoch(refresh["exp"]),
    )
    return str(refresh.access_token), str(refresh)


# Frontends send the same access token on every request until it expires. Its signature and
# claims are checked once per process; later the same string only needs its expiry checked
# again. Keyed by the exact token string and class, so nothing unverified is ever served, and
# bounded (random strings never get in: only tokens that passed verification are kept).
_VERIFIED_MAX = 10_000
_verified: OrderedDict[tuple[str, type[Token]], dict[str, Any]] = OrderedDict()
_verified_lock = threading.Lock()


def decode(raw: str, token_class: type[Token]) -> Token:
    """Signature, expiry and token type; raises TokenError. Never touches the database."""
    if not isinstance(raw, str) or not raw or len(raw) > 4096:
        raise TokenError("Token is invalid or expired")
    key = (raw, token_class)
    with _verified_lock:
        payload = _verified.get(key)
        if payload is not None:
            _verified.move_to_end(key)
    if payload is not None:
        token = token_class.__new__(token_class)
        token.token = raw
        token.current_time = aware_utcnow()
        token.payload = dict(payload)
        token.check_exp()  # the only check whose answer changes with time
        return token
    try:
        token = token_class(raw)
    except TokenError:
        raise
    except Exception as exc:  # malformed claims (e.g. a non-numeric exp) must not be a 500
        raise TokenError("Token is invalid or expired") from exc
    with _verified_lock:
        _verified[key] = dict(token.payload)
        if len(_verified) > _VERIFIED_MAX:
            _verified.popitem(last=False)
    return token
