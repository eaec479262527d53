"""HTTP for the application's errors: the one place that gives each a status and the SPEC's
body `{"detail", "code", "errors"?}` (and the headers that go with 401 and 429)."""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus

from django.http import JsonResponse

from core.errors import (
    AppError,
    Conflict,
    FieldError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    Throttled,
)

__all__ = ["STATUS", "app_error_response", "error_response"]

STATUS: dict[type[AppError], HTTPStatus] = {
    InvalidInput: HTTPStatus.BAD_REQUEST,
    NotAuthenticated: HTTPStatus.UNAUTHORIZED,
    PermissionDenied: HTTPStatus.FORBIDDEN,
    NotFound: HTTPStatus.NOT_FOUND,
    Conflict: HTTPStatus.CONFLICT,
    Throttled: HTTPStatus.TOO_MANY_REQUESTS,
}


def error_response(
    status: int,
    code: str,
    detail: str,
    *,
    errors: Iterable[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    body: dict[str, object] = {"detail": detail, "code": code}
    if errors is not None:
        body["errors"] = list(errors)
    response = JsonResponse(body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def app_error_response(exc: AppError) -> JsonResponse:
    status = next(
        (s for cls, s in STATUS.items() if isinstance(exc, cls)), HTTPStatus.INTERNAL_SERVER_ERROR
    )
    headers: dict[str, str] = {}
    if isinstance(exc, NotAuthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, Throttled):
        headers["Retry-After"] = str(exc.retry_after)
    errors = exc.errors if isinstance(exc, InvalidInput) else None
    return error_response(status, exc.code, exc.detail, errors=errors, headers=headers)
