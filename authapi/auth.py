"""Ninja auth for the routes that take credentials: a thin adapter from the Authorization header
to the domain's checks (authapi.tokens: `token_for_client` for a Bearer access token,
`api_token_for_client` for a `Token` API key). Every failure — missing, malformed, forged,
`alg: none`, expired, wrong type, wrong tenant, unknown or inactive user, ended session, deleted
key — is the same 401 body, so a caller learns nothing about why.

A route that takes credentials lists both schemes (`auth=CREDENTIALS`): Ninja tries them in
order, so a Bearer header is checked by the first, a Token header by the second, and no header
at all is refused by the second. The request then carries `session_id` (the access token's
session, or None) and `api_token` (the key used, or None).
"""

from __future__ import annotations

from typing import cast

from django.http import HttpRequest
from ninja.security.base import AuthBase

from authapi import api_tokens, tokens
from authapi.models import User
from core.errors import NotAuthenticated
from tenants.requests import TenantRequest

__all__ = ["CREDENTIALS", "BearerAuth", "TokenAuth", "request_user"]


def _authorization(request: HttpRequest) -> tuple[str, str] | None:
    """(scheme in lower case, credentials) of the Authorization header, None if absent."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if not credentials or " " in credentials:
        raise tokens.invalid_token()
    return scheme.lower(), credentials


def _bearer_user(request: TenantRequest, raw: str) -> User:
    token = tokens.token_for_client(raw, tokens.AccessToken, request.tenant)
    user = tokens.user_for_token(token)
    request.session_id = tokens.session_id_of(token)  # type: ignore[attr-defined]
    request.api_token = None  # type: ignore[attr-defined]
    return user


def _api_key_user(request: TenantRequest, raw: str) -> User:
    record, user = tokens.api_token_for_client(raw, request.tenant)
    api_tokens.api_token_touch(record)
    request.session_id = None  # type: ignore[attr-defined]
    request.api_token = record  # type: ignore[attr-defined]
    return user


def request_user(request: TenantRequest) -> User | None:
    """The user of the request's Bearer access token or Token API key; None if it sends no
    Authorization header. A header that is present but not valid for this tenant is a 401."""
    found = _authorization(request)
    if found is None:
        return None
    scheme, raw = found
    if scheme == "bearer":
        return _bearer_user(request, raw)
    if scheme == "token":
        return _api_key_user(request, raw)
    raise tokens.invalid_token()


class BearerAuth(AuthBase):
    """A Bearer access token of the request's tenant (an HTTP bearer scheme with JWTs)."""

    openapi_type = "http"
    openapi_scheme = "bearer"
    openapi_bearerFormat = "JWT"

    def __init__(self, *, only: bool = False) -> None:
        """`only`: the route takes nothing else (no header or another scheme is a 401);
        otherwise those are left to the next scheme."""
        super().__init__()
        self.only = only

    def __call__(self, request: HttpRequest) -> User | None:
        # Ninja's auth runs in the view, after the tenant middleware set request.tenant.
        found = _authorization(request)
        if found is None or found[0] != "bearer":
            if not self.only:
                return None  # the next scheme's
            if found is None:
                raise NotAuthenticated("Authentication credentials were not provided.")
            raise NotAuthenticated("This route takes a Bearer access token", code="token_not_valid")
        return _bearer_user(cast(TenantRequest, request), found[1])


class TokenAuth(AuthBase):
    """A static API key of the request's tenant: `Authorization: Token tat_…` (SPEC §7)."""

    openapi_type = "apiKey"
    openapi_in = "header"
    openapi_name = "Authorization"
    openapi_description = "`Token tat_…`: a static API key made at POST /api/auth/api-tokens/"

    def __call__(self, request: HttpRequest) -> User:
        found = _authorization(request)
        if found is None:
            raise NotAuthenticated("Authentication credentials were not provided.")
        scheme, raw = found
        if scheme != "token":
            raise tokens.invalid_token()
        return _api_key_user(cast(TenantRequest, request), raw)


CREDENTIALS = [BearerAuth(), TokenAuth()]
