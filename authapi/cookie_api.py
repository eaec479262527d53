"""Cookie mode's routes (SPEC §8): log in, register, refresh and log out with the tokens in
HttpOnly cookies, for browser frontends that should never hold a token in JavaScript.

Everything else of cookie mode is elsewhere: the cookies and the CSRF check in authapi.cookies,
the `access_token` cookie accepted on every Bearer route in authapi.auth, CORS per client in
tenants.origins. Logins, rotation (reuse detection included) and logout are authapi.sessions',
as for the JSON routes.
"""

from __future__ import annotations

import contextlib
from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.http import url_has_allowed_host_and_scheme
from ninja import Router, Status

from authapi import cookies, services, sessions
from authapi.auth import client_info
from authapi.schemas import (
    CookieLoginOut,
    CookieRefreshOut,
    CookieRegisterOut,
    CsrfOut,
    DetailOut,
    ErrorOut,
    LoginIn,
    RegisterIn,
)
from core.envelope import app_error_response
from core.errors import NotAuthenticated
from tenants.requests import TenantRequest

__all__ = ["router"]

router = Router(tags=["cookie mode"])

_ERRORS: dict[int, Any] = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    413: ErrorOut,
    415: ErrorOut,
}
_ANONYMOUS: dict[str, Any] = {"security": []}
_CSRF_HEADER: dict[str, Any] = {
    "security": [],
    "parameters": [
        {
            "name": "X-CSRFToken",
            "in": "header",
            "required": True,
            "description": "The `csrf_token` of the last login, refresh or csrf answer",
            "schema": {"type": "string"},
        }
    ],
}


def _signed_in(
    request: TenantRequest, response: HttpResponse, issued: sessions.IssuedTokens
) -> dict[str, Any]:
    """Set both JWT cookies and a new CSRF token; the body says who and until when."""
    cookies.set_auth_cookies(request, response, access=issued.access, refresh=issued.refresh)
    return {
        "user_id": issued.user.pk,
        "username": issued.user.username,
        "email": issued.user.email,
        "role": issued.user.role,
        "client_id": issued.client.pk,
        "client_name": issued.client.name,
        "access_expires_at": issued.access_expires_at,
        "csrf_token": cookies.csrf_issue(request, response, rotate=True),
    }


@router.post(
    "/api/auth/cookie/login/",
    response={200: CookieLoginOut, **_ERRORS, 429: ErrorOut},
    summary="Log in; the tokens are set as HttpOnly cookies",
    openapi_extra=_ANONYMOUS,
)
def cookie_login(
    request: TenantRequest, response: HttpResponse, payload: LoginIn
) -> dict[str, Any]:
    issued = sessions.token_pair_obtain(
        client=request.tenant,
        login=payload.username,
        password=payload.password,
        info=client_info(request),
    )
    return _signed_in(request, response, issued)


@router.post(
    "/api/auth/cookie/register/",
    response={201: CookieRegisterOut, **_ERRORS, 429: ErrorOut},
    summary="Register an account (customer) and log it in with cookies",
    openapi_extra=_ANONYMOUS,
)
def cookie_register(request: TenantRequest, response: HttpResponse, payload: RegisterIn) -> Status:
    issued = services.user_register(
        client=request.tenant,
        actor=None,  # staff and admin accounts are made with an admin's Bearer: /api/auth/register/
        username=payload.username,
        email=payload.email,
        password=payload.password,
        role=payload.role,
        first_name=payload.first_name,
        last_name=payload.last_name,
        info=client_info(request),
    )
    return Status(HTTPStatus.CREATED, _signed_in(request, response, issued))


@router.post(
    "/api/auth/cookie/refresh/",
    response={200: CookieRefreshOut, **_ERRORS},
    summary="Rotate the refresh cookie (reuse of a rotated one ends the session)",
    openapi_extra=_CSRF_HEADER,
)
def cookie_refresh(request: TenantRequest, response: HttpResponse) -> Any:
    cookies.csrf_check(request)
    raw = request.COOKIES.get(cookies.REFRESH_COOKIE)
    try:
        if not raw:
            raise NotAuthenticated("No refresh cookie", code="token_not_valid")
        issued = sessions.token_refresh_rotate(
            client=request.tenant, raw=raw, info=client_info(request)
        )
    except NotAuthenticated as exc:
        refused = app_error_response(exc)
        cookies.clear_auth_cookies(request, refused)  # they are worthless now
        return refused
    cookies.set_auth_cookies(request, response, access=issued.access, refresh=issued.refresh)
    return {
        "access_expires_at": issued.access_expires_at,
        "csrf_token": cookies.csrf_issue(request, response),
    }


@router.post(
    "/api/auth/cookie/logout/",
    response={200: DetailOut, 302: None, 403: ErrorOut},
    summary="Log out: end the session and clear both JWT cookies (an HTML form post: 302)",
    openapi_extra=_CSRF_HEADER,
)
def cookie_logout(request: TenantRequest) -> HttpResponse:
    cookies.csrf_check(request)
    raw = request.COOKIES.get(cookies.REFRESH_COOKIE)
    if raw:
        # Expired, rotated or forged: nothing to end, and the cookies go all the same.
        with contextlib.suppress(NotAuthenticated):
            sessions.token_blacklist(client=request.tenant, raw=raw)
    answer: HttpResponse
    if _wants_html(request):
        answer = HttpResponseRedirect(_after_logout(request))
    else:
        answer = JsonResponse({"detail": "Logged out"})
    cookies.clear_auth_cookies(request, answer)
    return answer


@router.get(
    "/api/auth/cookie/csrf/",
    response={200: CsrfOut},
    summary="A CSRF token for cookie mode (and the csrftoken cookie), e.g. after a page reload",
    openapi_extra=_ANONYMOUS,
)
def cookie_csrf(request: TenantRequest, response: HttpResponse) -> dict[str, str]:
    return {"csrf_token": cookies.csrf_issue(request, response)}


def _wants_html(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return "text/html" in accept and "application/json" not in accept


def _after_logout(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/login/"
