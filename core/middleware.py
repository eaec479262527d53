"""Request guards and the error shape for everything under /api/ and /auth/.

`RequestGuardMiddleware` refuses, before any view runs, what no route of ours accepts: a body
over `API_MAX_BODY_BYTES` (413), an API body that is not JSON (415: a cross-origin `text/plain`
POST needs no CORS preflight, so accepting it would let any web page call the API), and a NUL
character in a query parameter or form field (400: PostgreSQL text cannot hold one, so it would
otherwise surface as a database error). NUL inside JSON bodies is refused field by field by the
request schemas (authapi.schemas).

`ApiErrorShapeMiddleware` gives every error under /api/ and /auth/ the SPEC's JSON shape,
including the ones Django or Ninja render themselves (unknown route 404, wrong method 405, CSRF
or server errors).
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict

from core.envelope import error_response
from core.errors import NUL_MESSAGE

__all__ = ["ApiErrorShapeMiddleware", "RequestGuardMiddleware"]

_PREFIXES = ("/api/", "/auth/", "/.well-known/")
_CODES = {
    HTTPStatus.BAD_REQUEST: "invalid",
    HTTPStatus.FORBIDDEN: "permission_denied",
    HTTPStatus.NOT_FOUND: "not_found",
    HTTPStatus.METHOD_NOT_ALLOWED: "method_not_allowed",
    HTTPStatus.INTERNAL_SERVER_ERROR: "server_error",
}
JSON_CONTENT_TYPE = "application/json"


def _content_length(request: HttpRequest) -> int:
    # As Django reads it: absent or malformed means no body is read at all.
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def _nul_fields(data: QueryDict) -> list[str]:
    return [key for key, values in data.lists() if any("\x00" in v for v in [key, *values])]


class RequestGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.max_body = settings.API_MAX_BODY_BYTES

    def __call__(self, request: HttpRequest) -> HttpResponse:
        api = request.path_info.startswith(_PREFIXES)
        refusal = self._api_refusal(request) if api else self._page_refusal(request)
        return refusal or self.get_response(request)

    def _api_refusal(self, request: HttpRequest) -> HttpResponse | None:
        length = _content_length(request)
        if length > self.max_body:
            return error_response(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "request_too_large",
                f"Request body too large (at most {self.max_body} bytes)",
            )
        if (
            length
            and request.content_type != JSON_CONTENT_TYPE
            and not (
                request.content_type == _FORM_TYPES[0]
                and request.path_info in settings.API_FORM_PATHS
            )
        ):
            return error_response(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Request bodies must be JSON (Content-Type: application/json)",
            )
        if _has_nul(request.META.get("QUERY_STRING", "")):
            fields = _nul_fields(request.GET) or ["query"]
            return error_response(
                HTTPStatus.BAD_REQUEST,
                "invalid",
                "Invalid input",
                errors=[{"field": f.replace("\x00", ""), "message": NUL_MESSAGE} for f in fields],
            )
        return None

    def _page_refusal(self, request: HttpRequest) -> HttpResponse | None:
        # Admin changelist filters, search and forms: a plain 400 here, before a view could pass
        # the value to the database (and, with DEBUG on, render a debug page about it).
        nul = _has_nul(request.META.get("QUERY_STRING", "")) and _nul_fields(request.GET)
        if not nul and request.method == "POST" and request.content_type in _FORM_TYPES:
            nul = _nul_fields(request.POST)
        return HttpResponseBadRequest(NUL_MESSAGE, content_type="text/plain") if nul else None


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _has_nul(query_string: str) -> bool:
    return "%00" in query_string or "\x00" in query_string


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
