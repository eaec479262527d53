"""Token classes: django-ninja-jwt's, with the client claims and without implicit DB checks.

ninja-jwt's RefreshToken checks the blacklist on construction and records itself as outstanding
only from `for_user`. We construct tokens in exactly two ways: `issue_pair` (always recorded as
outstanding, whether at login, register or rotation) and `decode` (signature, expiry and type
only); blacklist and user checks are explicit steps in authapi.services.
"""

from __future__ import annotations

from ninja_jwt.exceptions import TokenError
from ninja_jwt.token_blacklist.models import OutstandingToken
from ninja_jwt.tokens import AccessToken, RefreshToken, Token
from ninja_jwt.utils import datetime_from_epoch

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


def decode(raw: str, token_class: type[Token]) -> Token:
    """Signature, expiry and token type; raises TokenError. Never touches the database."""
    if not isinstance(raw, str) or not raw or len(raw) > 4096:
        raise TokenError("Token is invalid or expired")
    try:
        return token_class(raw)
    except TokenError:
        raise
    except Exception as exc:  # malformed claims (e.g. a non-numeric exp) must not be a 500
        raise TokenError("Token is invalid or expired") from exc
