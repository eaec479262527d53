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
        constraints = [
            # Schema names with a leading underscore belong to the platform: the tenant template
            # (settings.TENANT_TEMPLATE_SCHEMA) must never be resolvable as a tenant.
            models.CheckConstraint(
                condition=~models.Q(schema_name__startswith="_"),
                name="client_schema_name_not_reserved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.schema_name})"


class Domain(DomainMixin):
    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain
