"""Writes on clients: onboarding (shared by the admin and `create_client`) and schema fan-out."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django_tenants.postgresql_backend.base import is_valid_schema_name
from django_tenants.utils import get_public_schema_name, schema_context

from tenants import selectors, template
from tenants.models import Client, Domain
from tenants.schema_clone import CloneUnsupportedError, schema_clone

__all__ = [
    "OnboardingError",
    "client_delete",
    "client_onboard",
    "for_each_schema",
    "validate_domain_name",
    "validate_schema_name",
]

T = TypeVar("T")

log = logging.getLogger(__name__)

# RFC 1123 host names, lower case, at least two labels ("acme.localhost", "acme.example.com").
_HOST_RE = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$"
)
_SCHEMA_RE = re.compile(r"^[a-z][a-z0-9_]{1,61}$")
_RESERVED_SCHEMAS = {"public", "information_schema", "template", "default"}


@dataclass
class OnboardingError(Exception):
    """A client could not be onboarded; `field` names the input at fault."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def validate_schema_name(schema_name: str) -> None:
    if (
        not _SCHEMA_RE.match(schema_name)
        or not is_valid_schema_name(schema_name)
        or schema_name.startswith("pg_")
        or schema_name in _RESERVED_SCHEMAS
    ):
        raise OnboardingError(
            "schema_name",
            f"invalid schema name {schema_name!r}: use 2-62 lower-case letters, digits or "
            "underscores, starting with a letter (not pg_*, public or a reserved name)",
        )
    if selectors.schema_exists(schema_name=schema_name):
        raise OnboardingError("schema_name", f"schema {schema_name!r} already exists")


def validate_domain_name(domain: str) -> None:
    if not _HOST_RE.match(domain):
        raise OnboardingError("domain", f"invalid domain {domain!r}")
    if selectors.domain_exists(domain=domain):
        raise OnboardingError("domain", f"domain {domain!r} is already in use")


def client_onboard(
    *,
    name: str,
    schema_name: str,
    domain: str,
    admin_username: str,
    admin_email: str,
    admin_password: str,
) -> Client:
    """Create a client completely, or not at all.

    The schema is a copy of the tenant template (a migrated schema, rebuilt first if the
    migrations changed: tenants.template), which takes milliseconds where replaying every
    migration takes a second or more. Schema, primary domain and first admin are made in one
    database transaction (PostgreSQL DDL is transactional), so a failure at any step leaves no
    schema, no domain and no client row behind (nor a half-rebuilt template).
    """
    from authapi.services import user_create

    name = name.strip()
    schema_name = schema_name.strip().lower()
    domain = domain.strip().lower()
    if not name:
        raise OnboardingError("name", "name is required")
    validate_schema_name(schema_name)
    validate_domain_name(domain)
    if not admin_username.strip():
        raise OnboardingError("admin_username", "admin username is required")
    try:
        validate_password(admin_password)
    except ValidationError as exc:
        raise OnboardingError("admin_password", " ".join(exc.messages)) from None

    try:
        with transaction.atomic():
            template.template_lock()
            source = template.template_ready()
            client = Client(name=name, schema_name=schema_name)
            client.save()
            try:
                schema_clone(source=source.schema, target=schema_name, description=source)
            except CloneUnsupportedError as exc:
                # Correct but slow: the template holds something a copy would not reproduce.
                log.warning("event=client_onboard_migrating schema=%s reason=%r", schema_name, exc)
                client.create_schema(check_if_exists=False, verbosity=0)
            Domain.objects.create(domain=domain, tenant=client, is_primary=True)
            with schema_context(schema_name):
                user_create(
                    username=admin_username,
                    email=admin_email,
                    password=admin_password,
                    role="admin",
                )
    except IntegrityError as exc:
        # Lost a race with a concurrent onboarding of the same schema or domain.
        raise OnboardingError("schema_name", f"client could not be created: {exc}") from None
    return client


def client_delete(*, client: Client) -> None:
    """Delete a client with its domains and its schema (all its users and tokens), in one
    transaction. The admin offers deactivation instead; this is for the shell and scripts."""
    if client.schema_name == get_public_schema_name():
        raise OnboardingError("schema_name", "the public tenant cannot be deleted")
    with transaction.atomic():
        connection.check_constraints()  # pending deferred checks would forbid the DROP
        with connection.cursor() as cursor:
            cursor.execute(
                f"DROP SCHEMA IF EXISTS {connection.ops.quote_name(client.schema_name)} CASCADE"
            )
        client.delete()  # and, by cascade, its domains


def for_each_schema(
    fn: Callable[[str], T], *, include_public: bool = True
) -> Iterator[tuple[str, T]]:
    """Run `fn(schema_name)` inside each active schema in turn (public first)."""
    schemas = [get_public_schema_name()] if include_public else []
    schemas += list(selectors.client_list_active().values_list("schema_name", flat=True))
    for schema_name in schemas:
        with schema_context(schema_name):
            yield schema_name, fn(schema_name)
