"""The template schema new clients are copied from, kept in step with the migrations.

`settings.TENANT_TEMPLATE_SCHEMA` is an ordinary tenant schema built by replaying the tenant
migrations (what django-tenants does for every new tenant by default), never served: it has no
Client row (a check constraint on Client forbids one) and so no domain, and nothing that lists
tenants (middleware, `migrate_schemas`, purge fan-out, `for_each_schema`) can reach it. It holds
what a fresh `migrate` leaves: `django_migrations`, content types and permissions, no users.

Staleness is impossible by construction: `template_ready`, which onboarding calls in its own
transaction right before copying, checks the template against two fingerprints stored in the
schema's comment when it was built, and rebuilds it first if either differs:

* the code fingerprint: every migration file of every installed app (name and content), the app
  lists and the Django / django-tenants versions. A new, removed or edited migration, or an
  upgrade, means a rebuild;
* the content fingerprint: the structure (tables, columns, defaults, constraints, indexes,
  sequences) and every row and sequence state of the template. Any change made to it outside a
  build (a dropped index, a deleted `django_migrations` row, a user row) means a rebuild.

Besides, `migrate_schemas` rebuilds it at the end of its tenant pass (tenants.executors), so the
first onboarding after a deployment does not pay for it. A rebuild drops the schema and replays
the migrations from nothing, so the template always equals a freshly migrated schema. Checks,
rebuilds and copies happen under one transaction-scoped advisory lock.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction

from core.tenancy import reset_to_public_schema
from tenants.schema_clone import SchemaDescription, data_digest, describe_schema

__all__ = [
    "TemplateStatus",
    "code_fingerprint",
    "template_build",
    "template_check",
    "template_ensure",
    "template_lock",
    "template_ready",
    "template_schema_name",
]

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key: int64 from a fixed name, the same in every process.
_LOCK_KEY = int.from_bytes(hashlib.sha256(b"tenantauth.tenant_template").digest()[:8], "big") - (
    1 << 63
)
_MARKER_VERSION = 1


def template_schema_name() -> str:
    return str(settings.TENANT_TEMPLATE_SCHEMA)


@dataclass(frozen=True)
class TemplateStatus:
    """`description` is set when the template is current; otherwise `reason` says why not."""

    description: SchemaDescription | None
    reason: str

    @property
    def current(self) -> bool:
        return self.description is not None


@functools.cache
def code_fingerprint() -> str:
    """What a fresh migrate of a tenant schema depends on, hashed. Computed once per process
    (the code does not change under a running process)."""
    from importlib.metadata import version

    import django
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            {
                "django": django.get_version(),
                "django_tenants": version("django-tenants"),
                "installed_apps": list(settings.INSTALLED_APPS),
                "tenant_apps": list(settings.TENANT_APPS),
                "shared_apps": list(settings.SHARED_APPS),
            },
            sort_keys=True,
        ).encode()
    )
    for key in sorted(loader.disk_migrations):
        module = sys.modules[type(loader.disk_migrations[key]).__module__]
        source = Path(module.__file__).read_bytes() if module.__file__ else b""
        digest.update(f"{key[0]}.{key[1]}:".encode() + hashlib.sha256(source).digest())
    return digest.hexdigest()


def template_lock() -> None:
    """Serialise template checks, rebuilds and copies until the current transaction ends."""
    if not connection.in_atomic_block:
        raise RuntimeError("template_lock() needs a transaction")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def _marker(description: SchemaDescription) -> dict[str, object]:
    return {
        "tenantauth_template": _MARKER_VERSION,
        "code": code_fingerprint(),
        "structure": description.digest(),
        "data": data_digest(description),
    }


def template_check() -> TemplateStatus:
    """Whether the template exists and is what the current code's migrations make."""
    schema = template_schema_name()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
            [schema],
        )
        row = cursor.fetchone()
    if row is None:
        return TemplateStatus(None, "missing")
    try:
        recorded = json.loads(row[0] or "")
    except ValueError:
        return TemplateStatus(None, "not marked as built")
    if not isinstance(recorded, dict) or recorded.get("tenantauth_template") != _MARKER_VERSION:
        return TemplateStatus(None, "not marked as built")
    if recorded.get("code") != code_fingerprint():
        return TemplateStatus(None, "migrations changed")
    description = describe_schema(schema)
    if description is None:
        return TemplateStatus(None, "missing")
    if recorded.get("structure") != description.digest():
        return TemplateStatus(None, "structure modified")
    if recorded.get("data") != data_digest(description):
        return TemplateStatus(None, "rows modified")
    return TemplateStatus(description, "current")


def template_build() -> SchemaDescription:
    """Drop the template and build it again by replaying the tenant migrations. Needs the
    template lock (so a transaction)."""
    schema = template_schema_name()
    quoted = connection.ops.quote_name(schema)
    # Deferred foreign-key checks still pending on the template's tables (rows a build earlier in
    # this transaction made) would forbid dropping them: run them now.
    connection.check_constraints()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {quoted} CASCADE")
        cursor.execute(f"CREATE SCHEMA {quoted}")
    try:
        call_command(
            "migrate_schemas",
            tenant=True,
            schema_name=schema,
            executor="standard",
            interactive=False,
            verbosity=0,
        )
    finally:
        reset_to_public_schema()
    description = describe_schema(schema)
    assert description is not None
    marker = json.dumps(_marker(description), sort_keys=True)
    with connection.cursor() as cursor:
        # COMMENT takes no bind parameters; the marker is hex digests and fixed keys.
        cursor.execute(f"COMMENT ON SCHEMA {quoted} IS '{marker}'")
    return description


def template_ready() -> SchemaDescription:
    """The template's description, rebuilding the template first if it is not current. Call
    inside the transaction that copies it, after `template_lock()`."""
    status = template_check()
    if status.current:
        assert status.description is not None
        return status.description
    log.info(
        "event=tenant_template_rebuild schema=%s reason=%r", template_schema_name(), status.reason
    )
    return template_build()


def template_ensure(*, force: bool = False) -> str:
    """Bring the template up to date in a transaction of its own; returns what was done."""
    with transaction.atomic():
        template_lock()
        status = template_check()
        if status.current and not force:
            return "current"
        log.info(
            "event=tenant_template_rebuild schema=%s reason=%r",
            template_schema_name(),
            "forced" if force else status.reason,
        )
        template_build()
        return f"rebuilt ({'forced' if force else status.reason})"
