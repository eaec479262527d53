"""Clients (tenants) and their domains. Data only: onboarding lives in tenants.services."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

__all__ = ["Client", "Domain"]


class Client(TenantMixin):
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    created_on = models.DateTimeField(auto_now_add=True)
    # Browser origins (`scheme://host[:port]`) allowed to call this client's API with
    # credentials (SPEC §8); normalised and checked by tenants.origins.
    allowed_origins = ArrayField(
        models.CharField(max_length=300),
        default=list,
        blank=True,
        help_text="Origins (scheme://host[:port]) whose pages may call this client's API, "
        "comma-separated, e.g. https://app.acme.com, http://localhost:5173",
    )

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
