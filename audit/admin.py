"""Audit events in both admins, read-only with filters: a client's events on its host, the
platform's in the public admin. Tenant staff may read them, as on GET /api/audit/."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEvent
from core.admin_sites import platform_admin_site, tenant_admin_site


class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "event", "user_id", "username", "ip", "session_id")
    list_filter = ("event", "at")
    search_fields = ("username", "ip")
    ordering = ("-at", "-id")
    fields = readonly_fields = (
        "at",
        "event",
        "user_id",
        "username",
        "ip",
        "user_agent",
        "session_id",
        "detail",
    )

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # Only the filters shown (and an exact user id): no probing of other fields by URL.
        if lookup == "user_id__exact":
            return True
        return lookup.split("__", 1)[0] in {"event", "at"} and super().lookup_allowed(
            lookup, value, request
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


platform_admin_site.register(AuditEvent, AuditEventAdmin)
tenant_admin_site.register(AuditEvent, AuditEventAdmin)
