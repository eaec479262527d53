"""Give every error under /api/ and /auth/ the SPEC's JSON shape, including the ones Django or
Ninja render themselves (unknown route 404, wrong method 405, CSRF or server errors)."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse

from core.errors import error_response

__all__ = ["ApiErrorShapeMiddleware"]

_PREFIXES = ("/api/", "/auth/")
_CODES = {
    HTTPStatus.BAD_REQUEST: "invalid",
    HTTPStatus.FORBIDDEN: "permission_denied",
    HTTPStatus.NOT_FOUND: "not_found",
    HTTPStatus.METHOD_NOT_ALLOWED: "method_not_allowed",
    HTTPStatus.INTERNAL_SERVER_ERROR: "server_error",
}


class ApiErrorShapeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path_info.startswith(_PREFIXES)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            status = HTTPStatus(response.status_code)
            shaped = error_response(status, _CODES.get(status, "error"), status.phrase)
            if "Allow" in response:
                shaped["Allow"] = response["Allow"]
            return shaped
        return response
