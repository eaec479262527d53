"""Reads of clients and domains. The host lookup is cached per process; see tenants.hostcache."""

from __future__ import annotations

from django.db.models import QuerySet
from django_tenants.utils import get_public_schema_name

from tenants.models import Client, Domain

__all__ = ["client_get_by_host", "client_list_active", "domain_exists", "schema_exists"]


def client_get_by_host(*, host: str) -> Client | None:
    """The client serving `host`, or None. One query; callers on the hot path use the cache."""
    domain = Domain.objects.select_related("tenant").filter(domain=host).first()
    return domain.tenant if domain is not None else None


def client_list_active(*, include_public: bool = False) -> QuerySet[Client]:
    clients = Client.objects.filter(is_active=True)
    if not include_public:
        clients = clients.exclude(schema_name=get_public_schema_name())
    return clients.order_by("id")


def domain_exists(*, domain: str) -> bool:
    return Domain.objects.filter(domain=domain.lower()).exists()


def schema_exists(*, schema_name: str) -> bool:
    from django_tenants.utils import schema_exists as _pg_schema_exists

    return Client.objects.filter(schema_name=schema_name).exists() or _pg_schema_exists(schema_name)
