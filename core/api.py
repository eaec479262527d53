"""The one NinjaAPI: mounts the routers (canonical routes and aliases) and renders every error
in the SPEC's shape {"detail", "code", "errors"?}. Mounted at the root of a tenant host's URLs,
because the alias routes live under both /api/ and /auth/."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema

from core import openapi
from core.envelope import app_error_response, error_response
from core.errors import AppError, FieldError
from core.outage import database_unavailable, is_database_outage

__all__ = ["api"]

log = logging.getLogger(__name__)


class TenantAuthAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        document = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        openapi.complete(document)
        return document


api = TenantAuthAPI(
    title="tenantauth",
    version="1.0.0",
    description="Tenant-bound JWT authentication. Call it on your tenant's host.",
    docs_url="/api/docs",
    openapi_url="/api/openapi.json",
    urls_namespace="api",
    servers=openapi.SERVERS,
)


def _field_name(loc: tuple[object, ...] | list[object]) -> str:
    # Ninja reports ("body", "payload", "username"); clients want "username".
    parts = [str(p) for p in loc if p not in ("body", "payload", "query", "page")]
    return ".".join(parts) or "body"


def _validation_errors(exc: ValidationError) -> list[FieldError]:
    errors: list[FieldError] = []
    for error in exc.errors:
        if isinstance(error, dict):
            errors.append(
                {"field": _field_name(error.get("loc", ())), "message": str(error.get("msg", ""))}
            )
        else:
            errors.append({"field": "body", "message": str(error)})
    return errors


@api.exception_handler(AppError)
def _app_error(request: HttpRequest, exc: AppError) -> HttpResponse:
    return app_error_response(exc)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return error_response(
        HTTPStatus.BAD_REQUEST, "invalid", "Invalid input", errors=_validation_errors(exc)
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    status = exc.status_code
    if status == HTTPStatus.UNPROCESSABLE_ENTITY or status == HTTPStatus.BAD_REQUEST:
        return error_response(
            HTTPStatus.BAD_REQUEST,
            "invalid",
            "Invalid input",
            errors=[{"field": "body", "message": str(exc)}],
        )
    code = HTTPStatus(status).phrase.lower().replace(" ", "_")
    return error_response(status, code, str(exc))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(HTTPStatus.NOT_FOUND, "not_found", "Not found")


@api.exception_handler(RequestDataTooBig)
def _too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    # core.middleware refuses large bodies first; this is the net for a body Django itself
    # finds too big while Ninja reads it.
    return error_response(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request_too_large", "Request body too large"
    )


@api.exception_handler(SuspiciousOperation)
def _suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    return error_response(HTTPStatus.BAD_REQUEST, "invalid", "Invalid request")


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    if is_database_outage(exc):  # PostgreSQL restarting: 503, try again (core.outage)
        return database_unavailable(request, exc)
    log.exception("event=unhandled_api_error path=%s", request.path)
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "server_error", "Internal server error")


api.add_router("", "authapi.api.router")
api.add_router("", "authapi.cookie_api.router")
api.add_router("", "signing.api.router")
