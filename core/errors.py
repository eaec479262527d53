"""The one error shape: {"detail", "code", "errors"?}, and the application error behind it."""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus

from django.http import JsonResponse

__all__ = ["NUL_MESSAGE", "ApiError", "FieldError", "error_response"]

FieldError = dict[str, str]

# Django's own wording (ProhibitNullCharactersValidator), so forms and the API say the same.
NUL_MESSAGE = "Null characters are not allowed."


class ApiError(Exception):
    """Raised by services and auth; rendered in one place (core.api) as the SPEC's error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: Iterable[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = int(status)
        self.code = code
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = headers or {}

    @classmethod
    def unauthorized(
        cls,
        detail: str = "Authentication credentials were not provided or are invalid",
        code: str = "not_authenticated",
    ) -> ApiError:
        return cls(HTTPStatus.UNAUTHORIZED, code, detail, headers={"WWW-Authenticate": "Bearer"})

    @classmethod
    def invalid(cls, errors: Iterable[FieldError], detail: str = "Invalid input") -> ApiError:
        return cls(HTTPStatus.BAD_REQUEST, "invalid", detail, errors=errors)


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
