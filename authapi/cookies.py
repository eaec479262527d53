"""Cookie mode's HTTP side (SPEC §8): the JWT cookies, Django's CSRF cookie, and the CSRF check
of cookie-authenticated requests. Tokens, sessions and rotation are authapi.sessions', exactly
as for the JSON routes; this module only moves them in and out of cookies.

- `access_token`: HttpOnly, Path=/, SameSite=Lax, Max-Age the access lifetime.
- `refresh_token`: HttpOnly, Path=/api/auth/cookie/ (sent to nothing else), SameSite=Strict,
  Max-Age the refresh lifetime.
- `csrftoken` (Django's name): readable by JavaScript, Path=/, SameSite=Lax.
All get Secure on an HTTPS request (directly, or per SECURE_PROXY_SSL_HEADER behind the proxy)
and whenever SameSite is None; `AUTH_COOKIE_DOMAIN` makes them domain cookies and
`AUTH_COOKIE_SAMESITE` overrides SameSite. Clearing sets the same attributes with an empty value
and Max-Age=0, or a browser keeps the cookie.

The CSRF check is Django's own (CsrfViewMiddleware: the `X-CSRFToken` header or the
`csrfmiddlewaretoken` field against the `csrftoken` cookie, and the Origin header against the
host and CSRF_TRUSTED_ORIGINS), with one addition: an origin the request's client allows for
CORS (tenants.origins) is trusted too, since its pages are the ones meant to call the API.
The API's middleware stack has no CSRF middleware (core.hotpath.handlers), so the check runs here,
only for requests that authenticate with a cookie.
"""

from __future__ import annotations

from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware, get_token, rotate_token
from ninja_jwt.settings import api_settings as jwt_settings

from core.errors import PermissionDenied

__all__ = [
    "ACCESS_COOKIE",
    "REFRESH_COOKIE",
    "REFRESH_COOKIE_PATH",
    "clear_auth_cookies",
    "csrf_check",
    "csrf_issue",
    "set_auth_cookies",
]

ACCESS_COOKIE = "access_token"
REFRESH_COOKIE = "refresh_token"
REFRESH_COOKIE_PATH = "/api/auth/cookie/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

SameSite = Literal["Lax", "Strict", "None"]


def _attributes(request: HttpRequest, *, path: str, samesite: SameSite) -> dict[str, Any]:
    chosen: str = settings.AUTH_COOKIE_SAMESITE or samesite
    return {
        "path": path,
        "domain": settings.AUTH_COOKIE_DOMAIN,
        "samesite": chosen,
        # Browsers drop SameSite=None cookies that are not Secure.
        "secure": request.is_secure() or chosen == "None",
    }


def _access_attributes(request: HttpRequest) -> dict[str, Any]:
    return {**_attributes(request, path="/", samesite="Lax"), "httponly": True}


def _refresh_attributes(request: HttpRequest) -> dict[str, Any]:
    return {
        **_attributes(request, path=REFRESH_COOKIE_PATH, samesite="Strict"),
        "httponly": True,
    }


def set_auth_cookies(
    request: HttpRequest, response: HttpResponseBase, *, access: str, refresh: str
) -> None:
    response.set_cookie(
        ACCESS_COOKIE,
        access,
        max_age=int(jwt_settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
        **_access_attributes(request),
    )
    response.set_cookie(
        REFRESH_COOKIE,
        refresh,
        max_age=int(jwt_settings.REFRESH_TOKEN_LIFETIME.total_seconds()),
        **_refresh_attributes(request),
    )


def clear_auth_cookies(request: HttpRequest, response: HttpResponseBase) -> None:
    """Both JWT cookies, emptied with the attributes they were set with."""
    response.set_cookie(ACCESS_COOKIE, "", max_age=0, **_access_attributes(request))
    response.set_cookie(REFRESH_COOKIE, "", max_age=0, **_refresh_attributes(request))


def csrf_issue(request: HttpRequest, response: HttpResponseBase, *, rotate: bool = False) -> str:
    """Set the `csrftoken` cookie (a new secret at login: `rotate`) and return the token for
    the `X-CSRFToken` header. A frontend on another origin cannot read the cookie, so the token
    also goes in the answer's body."""
    _TenantOriginCsrf(_unused).process_request(request)  # the cookie's secret, if any
    if rotate:
        rotate_token(request)
    token = get_token(request)
    response.set_cookie(
        settings.CSRF_COOKIE_NAME,
        request.META["CSRF_COOKIE"],
        max_age=settings.CSRF_COOKIE_AGE,
        httponly=False,
        **_attributes(request, path="/", samesite="Lax"),
    )
    return token


def csrf_check(request: HttpRequest) -> None:
    """Refuse an unsafe request whose CSRF token is missing or wrong: 403 `csrf_failed`."""
    if request.method in SAFE_METHODS:
        return
    check = _TenantOriginCsrf(_unused)
    check.process_request(request)
    refusal = check.process_view(request, _unused, (), {})
    if refusal is not None:
        reason = getattr(refusal, "reason", "CSRF check failed")
        raise PermissionDenied(f"CSRF check failed: {reason}", code="csrf_failed")


def _unused(request: HttpRequest) -> HttpResponse:
    raise AssertionError("the CSRF check never calls a view")


class _Refusal(HttpResponse):
    def __init__(self, reason: str) -> None:
        super().__init__(status=403)
        self.reason = reason


class _TenantOriginCsrf(CsrfViewMiddleware):
    def _origin_verified(self, request: HttpRequest) -> bool:
        # Django's private hook for the Origin check (5.2: CsrfViewMiddleware._origin_verified).
        if super()._origin_verified(request):  # type: ignore[misc]
            return True
        tenant = getattr(request, "tenant", None)
        origin = request.META.get("HTTP_ORIGIN")
        return bool(tenant is not None and origin and origin in tenant.allowed_origins)

    def _reject(self, request: HttpRequest, reason: str) -> HttpResponse:
        return _Refusal(reason)
