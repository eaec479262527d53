"""Host -> tenant. Unknown host: JSON 404 tenant_not_found; inactive client: JSON 403; the
database unreachable during the lookup: 503 (core.outage)."""

from __future__ import annotations

from http import HTTPStatus
from typing import cast

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name

from core.envelope import error_response
from core.outage import DATABASE_ERRORS, database_unavailable
from core.tenancy import reset_to_public_schema
from tenants import selectors
from tenants.models import Client, Domain
from tenants.requests import TenantRequest

__all__ = ["TenantMiddleware"]


class TenantMiddleware(TenantMainMiddleware):
    @staticmethod
    def hostname_from_request(request: HttpRequest) -> str:
        """The host as written, without its port. django-tenants strips a leading "www.",
        which would send a client onboarded as www.shadow.example to the owner of
        shadow.example; a host here resolves to exactly the domain it names. A Host header that
        is not even a valid host name names no domain: an unknown tenant (the JSON 404)."""
        try:
            return split_domain_port(request.get_host())[0]
        except DisallowedHost:
            return ""

    def get_tenant(self, domain_model: type[Domain], hostname: str) -> Client:
        client = selectors.client_get_by_host(host=hostname.lower()) if hostname else None
        if client is None:
            raise domain_model.DoesNotExist
        return client

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        return error_response(HTTPStatus.NOT_FOUND, "tenant_not_found", "Unknown tenant")

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        try:
            response = super().process_request(request)
        except DATABASE_ERRORS as exc:
            return database_unavailable(request, exc)
        if response is not None:
            return response
        tenant = cast(TenantRequest, request).tenant
        if not tenant.is_active and tenant.schema_name != get_public_schema_name():
            reset_to_public_schema()
            return error_response(
                HTTPStatus.FORBIDDEN, "tenant_inactive", "This client is inactive"
            )
        return None
