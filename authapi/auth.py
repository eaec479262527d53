"""The tenant-bound JWT check: the only place a token meets a tenant.

A token is accepted only on the host of the client it was issued for. Every failure — missing,
malformed, forged, `alg: none`, expired, wrong type, wrong tenant, unknown or inactive user —
is the same 401 body, so a caller learns nothing about why.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer
from ninja_jwt.tokens import Token

from authapi import tokens, userstate
from authapi.models import User
from core.errors import ApiError
from tenants.models import Client

__all__ = ["TenantJWTAuth", "bearer_user", "invalid_token", "token_for_tenant"]


def invalid_token() -> ApiError:
    return ApiError.unauthorized("Token is invalid or expired", "token_not_valid")


def token_for_tenant(raw: Any, token_class: type[Token], client: Client) -> Token:
    """Decode `raw` as `token_class` and insist it was issued for `client`."""
    try:
        token = tokens.decode(raw, token_class)
    except tokens.TokenError:
        raise invalid_token() from None
    claim = token.payload.get(tokens.CLIENT_ID)
    if type(claim) is not int or claim != client.pk:
        raise invalid_token()
    return token


def user_for_token(token: Token) -> User:
    user = userstate.user_get_active(user_id=token.payload.get("user_id"))
    if user is None:
        raise invalid_token()
    return user


def _raw_bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials or " " in credentials.strip():
        raise invalid_token()
    return credentials.strip()


def bearer_user(request: HttpRequest) -> User | None:
    """The user of a valid access token in the Authorization header; None if there is none.

    A header that is present but not a valid access token of this tenant is a 401.
    """
    raw = _raw_bearer(request)
    if raw is None:
        return None
    return user_for_token(token_for_tenant(raw, tokens.AccessToken, request.tenant))


class TenantJWTAuth(HttpBearer):
    """Ninja auth for routes that require a Bearer access token of the request's tenant."""

    openapi_bearerFormat = "JWT"

    def __call__(self, request: HttpRequest) -> User:
        user = bearer_user(request)
        if user is None:
            raise ApiError.unauthorized("Authentication credentials were not provided.")
        return user

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        raise AssertionError("unused: __call__ does the whole check")  # pragma: no cover
