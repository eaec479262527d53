"""Reads of clients and domains."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from django_tenants.utils import get_public_schema_name
from django_tenants.utils import schema_exists as _pg_schema_exists

from core.hotpath.cached import cached
from tenants.models import Client, Domain

__all__ = [
    "client_domains",
    "client_get_by_host",
    "client_list_active",
    "domain_exists",
    "schema_exists",
]


@cached(
    "hosts",
    model=Client,
    key=lambda *, host: host,
    max_entries=settings.HOST_CACHE_SIZE,
)
def client_get_by_host(*, host: str) -> Client | None:
    """The client serving `host` (as written, lower case), or None. One query, and none once
    this process has answered for the host (core.hotpath): a fresh Client each call."""
    domain = Domain.objects.select_related("tenant").filter(domain=host).first()
    return domain.tenant if domain is not None else None


def client_domains(*, client_id: int) -> list[str]:
    return list(Domain.objects.filter(tenant_id=client_id).values_list("domain", flat=True))


def client_list_active(*, include_public: bool = False) -> QuerySet[Client]:
    clients = Client.objects.filter(is_active=True)
    if not include_public:
        clients = clients.exclude(schema_name=get_public_schema_name())
    return clients.order_by("id")


def domain_exists(*, domain: str, exclude_pk: int | None = None) -> bool:
    domains = Domain.objects.filter(domain=domain.lower())
    if exclude_pk is not None:
        domains = domains.exclude(pk=exclude_pk)
    return domains.exists()


def schema_exists(*, schema_name: str) -> bool:
    return Client.objects.filter(schema_name=schema_name).exists() or _pg_schema_exists(schema_name)
