"""Ninja auth for the routes that take credentials: a thin adapter from the Authorization header
to the domain's checks (authapi.tokens: `token_for_client` for a Bearer access token,
`api_token_for_client` for a `Token` API key). Every failure — missing, malformed, forged,
`alg: none`, expired, wrong type, wrong tenant, unknown or inactive user, ended session, deleted
key — is the same 401 body, so a caller learns nothing about why.

A route that takes credentials lists the three schemes (`auth=CREDENTIALS`): Ninja tries them in
order, so a Bearer header is checked by the first, a Token header by the second, and the last
takes the `access_token` cookie of cookie mode (SPEC §8, with Django's CSRF check on unsafe
methods: authapi.cookies) when no Authorization header is sent, and refuses everything else.
The request then carries `session_id` (the access token's session, or None) and `api_token` (the
key used, or None).
"""

from __future__ import annotations

from typing import cast

from django.http import HttpRequest
from ninja.security.base import AuthBase

from authapi import api_tokens, cookies, sessions, tokens
from authapi.models import User
from core.clientip import client_ip
from core.errors import NotAuthenticated
from tenants.requests import TenantRequest

__all__ = [
    "CREDENTIALS",
    "SESSION_CREDENTIALS",
    "BearerAuth",
    "CookieAuth",
    "TokenAuth",
    "client_info",
    "request_user",
]


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


def client_info(request: TenantRequest) -> sessions.ClientInfo:
    """Where a login comes from (user agent, client IP through the trusted proxies) and the URL
    it came to, as the session and the audit trail record them."""
    return sessions.ClientInfo(
        user_agent=request.headers.get("User-Agent", ""),
        ip=client_ip(request),
        base_url=f"{request.scheme}://{request.get_host()}",
    )


def request_user(request: TenantRequest) -> User | None:
    """The user of the request's Bearer access token or Token API key, for the routes where
    credentials are optional (register, making an API key); None if it sends no Authorization
    header. A header that is present but not valid for this tenant is a 401. Cookies are not
    read: a stale access cookie must not turn an anonymous registration into a 401."""
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

    def __call__(self, request: HttpRequest) -> User | None:
        # Ninja's auth runs in the view, after the tenant middleware set request.tenant.
        found = _authorization(request)
        if found is None or found[0] != "bearer":
            return None  # the next scheme's
        return _bearer_user(cast(TenantRequest, request), found[1])


class TokenAuth(AuthBase):
    """A static API key of the request's tenant: `Authorization: Token tat_…` (SPEC §7)."""

    openapi_type = "apiKey"
    openapi_in = "header"
    openapi_name = "Authorization"
    openapi_description = "`Token tat_…`: a static API key made at POST /api/auth/api-tokens/"

    def __call__(self, request: HttpRequest) -> User | None:
        found = _authorization(request)
        if found is None or found[0] != "token":
            return None  # the next scheme's
        return _api_key_user(cast(TenantRequest, request), found[1])


class CookieAuth(AuthBase):
    """Cookie mode's `access_token` cookie, when no Authorization header is sent; an unsafe
    method must then carry the CSRF token (403 `csrf_failed` otherwise). Last in the list: a
    header the schemes before it did not take is refused here."""

    openapi_type = "apiKey"
    openapi_in = "cookie"
    openapi_name = cookies.ACCESS_COOKIE
    openapi_description = (
        "Cookie mode: the HttpOnly cookie set by POST /api/auth/cookie/login/; unsafe methods "
        "also need the `X-CSRFToken` header"
    )

    def __call__(self, request: HttpRequest) -> User:
        if _authorization(request) is not None:
            raise tokens.invalid_token()
        raw = request.COOKIES.get(cookies.ACCESS_COOKIE)
        if not raw:
            raise NotAuthenticated("Authentication credentials were not provided.")
        cookies.csrf_check(request)
        return _bearer_user(cast(TenantRequest, request), raw)


CREDENTIALS = [BearerAuth(), TokenAuth(), CookieAuth()]
# The routes only a login may use (password change): an access token, in a header or a cookie.
SESSION_CREDENTIALS = [BearerAuth(), CookieAuth()]
