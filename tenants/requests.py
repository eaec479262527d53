"""The request as the views see it once the tenant middleware has run."""

from __future__ import annotations

from django.http import HttpRequest

from tenants.models import Client

__all__ = ["TenantRequest"]


class TenantRequest(HttpRequest):
    """For type checking only: django-tenants' middleware sets `tenant` on every request that
    reaches a view (unknown hosts are answered before)."""

    tenant: Client
