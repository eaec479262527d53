"""Clients (tenants) and their domains. Data only: onboarding lives in tenants.services."""

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

__all__ = ["Client", "Domain"]


class Client(TenantMixin):
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    created_on = models.DateTimeField(auto_now_add=True)

    # Schemas are created explicitly by tenants.services.client_onboard, inside its transaction.
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.schema_name})"


class Domain(DomainMixin):
    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain
