"""JSON routes of SPEC §3. Handlers parse, call one service or selector, return an Out schema.

Each handler is registered on its canonical route (documented) and on its aliases (hidden from
the OpenAPI document, same behaviour).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.db.models import QuerySet
from ninja import Field as NinjaField
from ninja import Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from audit.models import AuditEvent
from audit.selectors import event_list
from authapi import api_tokens, selectors, services, sessions
from authapi.auth import CREDENTIALS, SESSION_CREDENTIALS, client_info, request_user
from authapi.models import ApiToken, Session, User
from authapi.roles import is_tenant_admin
from authapi.schemas import (
    AccountOut,
    ApiTokenCreatedOut,
    ApiTokenCreateIn,
    ApiTokenOut,
    AuditEventOut,
    AuthTestOut,
    DetailOut,
    EmptyOut,
    ErrorOut,
    LoginIn,
    LogoutAllOut,
    LogoutIn,
    PasswordChangeIn,
    RefreshIn,
    RegisterIn,
    RegisterOut,
    SessionOut,
    TokenPairOut,
    TokenRefreshOut,
    UserOut,
    VerifyIn,
)
from core.errors import InvalidInput, PermissionDenied
from tenants.requests import TenantRequest

__all__ = ["router"]


class AuthenticatedRequest(TenantRequest):
    auth: User
    session_id: str | None  # of the access token (None: a Token key, or from before sessions)
    api_token: ApiToken | None  # the key of a `Token` request


router = Router(tags=["auth"])
# Every route that takes a Bearer access token takes a Token API key too (SPEC §7).
jwt_auth = CREDENTIALS
_CREDENTIALS_OPTIONAL: dict[str, Any] = {"security": [{}, {"BearerAuth": []}, {"TokenAuth": []}]}

_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut}
# Routes that read a JSON body may also answer 413 (too large) and 415 (not JSON):
# core.middleware.RequestGuardMiddleware.
_BODY_ERRORS = {**_ERRORS, 413: ErrorOut, 415: ErrorOut}
# Login and register are rate limited (SPEC §10): 429 with Retry-After.
_LIMITED_ERRORS = {**_BODY_ERRORS, 429: ErrorOut}


def _routes(method: str, canonical: str, aliases: list[str], **kwargs: Any) -> Any:
    """Register one handler on its canonical path and its hidden aliases."""

    def register(view: Any) -> Any:
        add = getattr(router, method)
        add(canonical, **kwargs)(view)
        for alias in aliases:
            add(alias, include_in_schema=False, **kwargs)(view)
        return view

    return register


@router.get("/api/hello", include_in_schema=False)
def hello(request: TenantRequest) -> dict[str, object]:
    """A trivial unauthenticated endpoint through the whole middleware stack (benchmarks)."""
    return {"client_id": request.tenant.pk, "client_name": request.tenant.name}


@_routes(
    "post",
    "/api/auth/token/",
    ["/api/token/", "/api/login/", "/auth/token/"],
    response={200: TokenPairOut, **_LIMITED_ERRORS},
    summary="Obtain a token pair (login)",
)
def login(request: TenantRequest, payload: LoginIn) -> sessions.IssuedTokens:
    return sessions.token_pair_obtain(
        client=request.tenant,
        login=payload.username,
        password=payload.password,
        info=client_info(request),
    )


@_routes(
    "post",
    "/api/auth/token/refresh/",
    ["/api/token/refresh/", "/auth/token/refresh/"],
    response={200: TokenRefreshOut, **_BODY_ERRORS},
    summary="Rotate a refresh token",
)
def refresh(request: TenantRequest, payload: RefreshIn) -> sessions.IssuedTokens:
    return sessions.token_refresh_rotate(
        client=request.tenant, raw=payload.refresh, info=client_info(request)
    )


@_routes(
    "post",
    "/api/auth/token/verify/",
    ["/api/token/verify/"],
    response={200: EmptyOut, **_BODY_ERRORS},
    summary="Verify a token of this tenant",
)
def verify(request: TenantRequest, payload: VerifyIn) -> dict[str, object]:
    sessions.token_verify(client=request.tenant, raw=payload.token)
    return {}


@_routes(
    "post",
    "/api/auth/token/blacklist/",
    ["/api/token/blacklist/", "/api/logout/", "/auth/token/blacklist/"],
    response={200: DetailOut, **_BODY_ERRORS},
    summary="Log out: blacklist a refresh token and end its session (or, sent with "
    "`Authorization: Token …` and no refresh token, delete that API key)",
    openapi_extra={"security": [{}, {"TokenAuth": []}]},
)
def logout(request: TenantRequest, payload: LogoutIn) -> dict[str, str]:
    if payload.refresh is not None:
        sessions.token_blacklist(client=request.tenant, raw=payload.refresh)
    elif request.headers.get("Authorization", "").lower().startswith("token "):
        request_user(request)  # a valid key of this tenant, else 401
        api_tokens.api_token_logout(record=request.api_token)  # type: ignore[attr-defined]
    else:
        raise InvalidInput.field("refresh", "Field required")
    return {"detail": "Logged out"}


@_routes(
    "post",
    "/api/auth/register/",
    ["/api/register/", "/auth/register/"],
    response={201: RegisterOut, **_LIMITED_ERRORS},
    summary="Register an account (staff and admin need an admin's Bearer token)",
    openapi_extra=_CREDENTIALS_OPTIONAL,
)
def register(request: TenantRequest, payload: RegisterIn) -> Status:
    issued = services.user_register(
        client=request.tenant,
        actor=request_user(request),
        username=payload.username,
        email=payload.email,
        password=payload.password,
        role=payload.role,
        first_name=payload.first_name,
        info=client_info(request),
        last_name=payload.last_name,
    )
    return Status(HTTPStatus.CREATED, issued)


@_routes(
    "get",
    "/api/user/",
    ["/api/profile/"],
    auth=jwt_auth,
    response={200: UserOut, **_ERRORS},
    summary="The current user",
)
def current_user(request: AuthenticatedRequest) -> User:
    return request.auth


@router.get(
    "/api/test-auth/",
    auth=jwt_auth,
    response={200: AuthTestOut, **_ERRORS},
    summary="Authentication self-test",
    operation_id="test_auth_get",
)
@router.post(
    "/api/test-auth/",
    auth=jwt_auth,
    response={200: AuthTestOut, **_ERRORS},
    summary="Authentication self-test (POST)",
    operation_id="test_auth_post",
)
def test_auth(request: AuthenticatedRequest) -> dict[str, object]:
    return {
        "message": "JWT authentication is working",
        "authenticated": True,
        "user": request.auth.username,
    }


class ListPage(LimitOffsetPagination):
    """`?limit=` (1-100, default 20) and `?offset=` for every list route."""

    class Input(Schema):
        limit: int = NinjaField(20, ge=1, le=100)
        offset: int = NinjaField(0, ge=0, le=10_000_000)


@_routes(
    "get",
    "/api/accounts/",
    ["/api/view-accounts/", "/auth/view-accounts/"],
    auth=jwt_auth,
    response={200: list[AccountOut], **_ERRORS},
    summary="List the tenant's accounts (staff and admin), newest first",
)
@paginate(ListPage)
def accounts(request: AuthenticatedRequest) -> QuerySet[User]:
    return selectors.account_list(actor=request.auth)


@router.get(
    "/api/auth/sessions/",
    auth=jwt_auth,
    response={200: list[SessionOut], **_ERRORS},
    summary="My live sessions, newest first (`current` marks the caller's)",
)
@paginate(ListPage)
def sessions_list(request: AuthenticatedRequest) -> QuerySet[Session]:
    return selectors.session_list_active(user=request.auth)


@router.delete(
    "/api/auth/sessions/{session_id}/",
    auth=jwt_auth,
    response={204: None, 404: ErrorOut, **_ERRORS},
    summary="End one of my sessions",
)
def session_end(request: AuthenticatedRequest, session_id: str) -> Status:
    sessions.session_end(user=request.auth, session_id=session_id)
    return Status(HTTPStatus.NO_CONTENT, None)


@router.post(
    "/api/auth/logout-all/",
    auth=jwt_auth,
    response={200: LogoutAllOut, **_ERRORS},
    summary="Log out everywhere: end every session of mine, this one included",
)
def logout_all(request: AuthenticatedRequest) -> dict[str, object]:
    ended = sessions.sessions_end_all(user=request.auth)
    return {"detail": "Logged out everywhere", "revoked": ended}


@router.post(
    "/api/auth/password/change/",
    auth=SESSION_CREDENTIALS,
    response={200: DetailOut, **_BODY_ERRORS},
    summary="Change my password; every other session of mine ends",
)
def password_change(request: AuthenticatedRequest, payload: PasswordChangeIn) -> dict[str, str]:
    sessions.password_change(
        user=request.auth,
        session_id=request.session_id,
        old=payload.old_password,
        new=payload.new_password,
        info=client_info(request),
    )
    return {"detail": "Password changed"}


@router.post(
    "/api/auth/api-tokens/",
    response={201: ApiTokenCreatedOut, **_LIMITED_ERRORS},
    summary="Make an API key (with a Bearer, or with username and password); shown once",
    openapi_extra={"security": [{}, {"BearerAuth": []}]},
)
def api_token_create(request: TenantRequest, payload: ApiTokenCreateIn) -> Status:
    user = request_user(request)
    if user is not None:
        if getattr(request, "api_token", None) is not None:
            raise PermissionDenied("API keys are made with a login (Bearer), not with a key")
        if payload.name is None:
            raise InvalidInput.field("name", "Field required")
        issued = api_tokens.api_token_create(
            user=user, name=payload.name, expires_in_days=payload.expires_in_days
        )
    else:
        missing = [f for f in ("username", "password") if getattr(payload, f) is None]
        if missing:
            raise InvalidInput([{"field": f, "message": "Field required"} for f in missing])
        issued = api_tokens.api_token_create_with_password(
            login=payload.username or "",
            password=payload.password or "",
            name=payload.name,
            expires_in_days=payload.expires_in_days,
            info=client_info(request),
        )
    return Status(HTTPStatus.CREATED, issued)


@router.get(
    "/api/auth/api-tokens/",
    auth=jwt_auth,
    response={200: list[ApiTokenOut], **_ERRORS},
    summary="My API keys (never their value), newest first",
)
@paginate(ListPage)
def api_token_list(request: AuthenticatedRequest) -> QuerySet[ApiToken]:
    return selectors.api_token_list(user=request.auth)


@router.delete(
    "/api/auth/api-tokens/{token_id}/",
    auth=jwt_auth,
    response={204: None, 404: ErrorOut, **_ERRORS},
    summary="Delete one of my API keys",
)
def api_token_delete(request: AuthenticatedRequest, token_id: int) -> Status:
    api_tokens.api_token_delete(user=request.auth, token_id=token_id)
    return Status(HTTPStatus.NO_CONTENT, None)


@router.get(
    "/api/audit/",
    auth=jwt_auth,
    response={200: list[AuditEventOut], **_ERRORS},
    summary="The client's audit trail, newest first (staff and admin)",
)
@paginate(ListPage)
def audit_list(
    request: AuthenticatedRequest, event: str | None = None, user_id: int | None = None
) -> QuerySet[AuditEvent]:
    user = request.auth
    if not (user.role in ("staff", "admin") or is_tenant_admin(user)):
        raise PermissionDenied("Only staff and admin may read the audit trail")
    return event_list(event=event, user_id=user_id)
