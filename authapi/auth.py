"""Ninja auth for Bearer routes: a thin adapter from the Authorization header to the domain's
token check (authapi.tokens.token_for_client). Every failure — missing, malformed, forged,
`alg: none`, expired, wrong type, wrong tenant, unknown or inactive user — is the same 401 body,
so a caller learns nothing about why.
"""

from __future__ import annotations

from typing import cast

from django.http import HttpRequest
from ninja.security.base import AuthBase

from authapi import tokens
from authapi.models import User
from core.errors import NotAuthenticated
from tenants.requests import TenantRequest

__all__ = ["TenantJWTAuth", "bearer_user"]


def _raw_bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials or " " in credentials.strip():
        raise tokens.invalid_token()
    return credentials.strip()


def bearer_user(request: TenantRequest) -> User | None:
    """The user of a valid access token in the Authorization header; None if there is none.
    Its session id is left on the request as `session_id`.

    A header that is present but not a valid access token of this tenant is a 401.
    """
    raw = _raw_bearer(request)
    if raw is None:
        return None
    token = tokens.token_for_client(raw, tokens.AccessToken, request.tenant)
    user = tokens.user_for_token(token)
    request.session_id = tokens.session_id_of(token)  # type: ignore[attr-defined]
    return user


class TenantJWTAuth(AuthBase):
    """Routes that require a Bearer access token of the request's tenant (documented in the
    OpenAPI document as an HTTP bearer scheme with JWTs)."""

    openapi_type = "http"
    openapi_scheme = "bearer"
    openapi_bearerFormat = "JWT"

    def __call__(self, request: HttpRequest) -> User:
        # Ninja's auth runs in the view, after the tenant middleware set request.tenant.
        user = bearer_user(cast(TenantRequest, request))
        if user is None:
            raise NotAuthenticated("Authentication credentials were not provided.")
        return user
