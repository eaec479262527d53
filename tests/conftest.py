"""Fixtures: the public tenant and two client tenants on real PostgreSQL and Redis.

The test database is created by pytest-django (migrate == migrate_schemas for public). The two
client schemas are onboarded once per session through the product's own onboarding service.
Transactional tests flush the public tables at teardown, so the tenant fixtures re-create the
Client and Domain rows when they are missing (the schemas themselves are kept).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client as HttpClient
from django.test.client import ClientHandler
from django_tenants.utils import get_public_schema_name, schema_context

from core.hotpath import localcache
from core.hotpath.handlers import ApiFastPath
from tenants.models import Client, Domain

PUBLIC_HOST = "localhost"
ADMIN_PASSWORD = "Adm1n-pass-for-tests"


@dataclass(frozen=True)
class TenantSpec:
    name: str
    schema: str
    domain: str


ACME = TenantSpec("Acme Corp", "acme", "acme.localhost")
GLOBEX = TenantSpec("Globex Inc", "globex", "globex.localhost")


def ensure_public() -> Client:
    public, _ = Client.objects.get_or_create(
        schema_name=get_public_schema_name(), defaults={"name": "Platform"}
    )
    Domain.objects.get_or_create(
        domain=PUBLIC_HOST, defaults={"tenant": public, "is_primary": True}
    )
    return public


def ensure_tenant(spec: TenantSpec) -> Client:
    """The client for `spec`, onboarding it (schema + admin) the first time."""
    from django_tenants.utils import schema_exists

    from onboarding.services import client_onboard

    client = Client.objects.filter(schema_name=spec.schema).first()
    if client is not None:
        return client
    if not schema_exists(spec.schema):
        return client_onboard(
            name=spec.name,
            schema_name=spec.schema,
            domain=spec.domain,
            admin_username="owner",
            admin_email=f"owner@{spec.domain}",
            admin_password=ADMIN_PASSWORD,
        )
    # Schema survived a transactional test's flush of the public tables: re-attach it.
    client = Client(name=spec.name, schema_name=spec.schema)
    client.save()
    Domain.objects.create(domain=spec.domain, tenant=client, is_primary=True)
    return client


@pytest.fixture(scope="session")
def _tenants_created(django_db_setup: None, django_db_blocker) -> None:
    with django_db_blocker.unblock():
        ensure_public()
        ensure_tenant(ACME)
        ensure_tenant(GLOBEX)


def _forget_login_counters() -> None:
    """Login protection's counters (authapi.protection) do not carry over from test to test."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter("tenantauth:lp:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _fresh_host_cache() -> Iterator[None]:
    # The caches answer only once this process's invalidation listener is subscribed.
    assert localcache.wait_until_ready(), "the local-cache listener could not subscribe to Redis"
    localcache.clear_all()
    _forget_login_counters()
    yield
    localcache.clear_all()
    connection.set_schema_to_public()


@pytest.fixture
def public_tenant(_tenants_created: None, django_db_blocker) -> Client:
    with django_db_blocker.unblock():
        return ensure_public()


@pytest.fixture
def tenant_a(_tenants_created: None, public_tenant: Client, django_db_blocker) -> Client:
    with django_db_blocker.unblock():
        return ensure_tenant(ACME)


@pytest.fixture
def tenant_b(_tenants_created: None, public_tenant: Client, django_db_blocker) -> Client:
    with django_db_blocker.unblock():
        return ensure_tenant(GLOBEX)


class ApiClientHandler(ApiFastPath, ClientHandler):
    """Django's test-client handler with production's split of middleware stacks."""


def host_client(host: str, *, enforce_csrf_checks: bool = False) -> HttpClient:
    """A Django test client that goes through the real middleware with a fixed Host (the API
    stack for /api/ and /auth/, the full one elsewhere, as core.wsgi does). Django's test client
    skips CSRF checks unless `enforce_csrf_checks`, as a browser's requests would not."""
    client = HttpClient(HTTP_HOST=host, enforce_csrf_checks=enforce_csrf_checks)
    client.handler = ApiClientHandler(client.handler.enforce_csrf_checks)
    return client


@pytest.fixture
def http_a(tenant_a: Client) -> HttpClient:
    return host_client(ACME.domain)


@pytest.fixture
def http_b(tenant_b: Client) -> HttpClient:
    return host_client(GLOBEX.domain)


@pytest.fixture
def http_public(public_tenant: Client) -> HttpClient:
    return host_client(PUBLIC_HOST)


@pytest.fixture
def in_schema():
    """`with in_schema(tenant): ...` — ORM calls inside run in that tenant's schema."""
    return lambda tenant: schema_context(tenant.schema_name)


def run_in_another_process(code: str, env: dict[str, str] | None = None) -> str:
    """Run Django code in a separate Python process on the test database; returns its stdout.

    For what only another process can show: a change made there must reach this process's
    per-process caches (core.localcache) at once.
    """
    import subprocess
    import sys
    from urllib.parse import urlsplit

    # The same server as this process, but the test database pytest-django made.
    url = urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + connection.settings_dict["NAME"])
    extra = env or {}
    env = {
        **os.environ,
        "DATABASE_URL": url.geturl(),
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": settings.SECRET_KEY,
        "DJANGO_SETTINGS_MODULE": "core.settings",
        **extra,
    }
    prelude = "import django\ndjango.setup()\n"
    done = subprocess.run(
        [sys.executable, "-c", prelude + code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=settings.BASE_DIR,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
