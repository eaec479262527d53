"""Two admin sites: the platform's on the public host, each tenant's on its own host.

Each host's URLconf mounts only its own site (core.urls_public / core.urls), and each site also
checks the schema it is served from, so a model registered for one can never be reached from
the other.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import AdminSite
from django.http import HttpRequest
from django_tenants.utils import get_public_schema_name

from core.login_views import throttle_aware

__all__ = ["platform_admin_site", "tenant_admin_site"]


def _on_public(request: HttpRequest) -> bool:
    # The tenant middleware sets request.tenant (core does not import tenants).
    tenant = getattr(request, "tenant", None)
    return tenant is not None and tenant.schema_name == get_public_schema_name()


class ProtectedLoginSite(AdminSite):
    """/admin/login/ answers 429 for a login refused by login protection (core.login_views)."""

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        return throttle_aware(super().login)(request, extra_context)


class PlatformAdminSite(ProtectedLoginSite):
    site_header = "tenantauth — platform"
    site_title = "tenantauth platform"
    index_title = "Clients and platform staff"

    def has_permission(self, request: HttpRequest) -> bool:
        return _on_public(request) and super().has_permission(request)


class TenantAdminSite(ProtectedLoginSite):
    site_title = "tenantauth"
    index_title = "Users and tokens"
    index_template = "admin/tenant_index.html"  # adds the blocked-logins page
    # Pages of apps above core that are not a model's (authapi.admin adds "blocked logins").
    extra_views: list[Any] = []

    def get_urls(self) -> list[Any]:
        from django.urls import path

        extra = [
            path(route, self.admin_view(view), name=name) for route, view, name in self.extra_views
        ]
        return extra + super().get_urls()

    def has_permission(self, request: HttpRequest) -> bool:
        return not _on_public(request) and super().has_permission(request)

    def each_context(self, request: HttpRequest) -> dict[str, object]:
        context = super().each_context(request)
        tenant = getattr(request, "tenant", None)
        context["site_header"] = f"{tenant.name} — admin" if tenant is not None else "admin"
        return context


platform_admin_site = PlatformAdminSite(name="platform_admin")
tenant_admin_site = TenantAdminSite(name="tenant_admin")
