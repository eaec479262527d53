"""Writes on clients that need nothing but the tenants app: validating the names a client is
known by, and deleting a client. Onboarding (a client with its first admin) is onboarding's."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import DomainNameValidator
from django.db import connection, transaction
from django_tenants.postgresql_backend.base import is_valid_schema_name
from django_tenants.utils import get_public_schema_name

from core.errors import InvalidInput
from tenants import selectors
from tenants.models import Client

__all__ = [
    "client_delete",
    "domain_normalize",
    "validate_domain_name",
    "validate_schema_name",
]

_SCHEMA_RE = re.compile(r"^[a-z][a-z0-9_]{1,61}$")
_RESERVED_SCHEMAS = {"public", "information_schema", "template", "default"}
_DOMAIN_VALIDATOR = DomainNameValidator(accept_idna=False)


def validate_schema_name(schema_name: str) -> None:
    if (
        not _SCHEMA_RE.match(schema_name)
        or not is_valid_schema_name(schema_name)
        or schema_name.startswith("pg_")
        or schema_name in _RESERVED_SCHEMAS
    ):
        raise InvalidInput.field(
            "schema_name",
            f"invalid schema name {schema_name!r}: use 2-62 lower-case letters, digits or "
            "underscores, starting with a letter (not pg_*, public or a reserved name)",
        )
    if selectors.schema_exists(schema_name=schema_name):
        raise InvalidInput.field("schema_name", f"schema {schema_name!r} already exists")


def domain_normalize(domain: str) -> str:
    """A host name as browsers send it in the Host header: lower case, no trailing dot,
    international names in their ASCII (punycode) form. Wherever a domain is entered."""
    domain = domain.strip().rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain  # not encodable: validate_domain_name refuses it


def validate_domain_name(domain: str, *, exclude_pk: int | None = None) -> None:
    """`domain` (normalised) must be a host name of two labels or more (or the public host)
    that no other domain row holds."""
    try:
        if domain != settings.PUBLIC_HOST:
            _DOMAIN_VALIDATOR(domain)
    except ValidationError:
        raise InvalidInput.field("domain", f"invalid domain {domain!r}") from None
    if selectors.domain_exists(domain=domain, exclude_pk=exclude_pk):
        raise InvalidInput.field("domain", f"domain {domain!r} is already in use")


def client_delete(*, client: Client) -> None:
    """Delete a client with its domains and its schema (all its users and tokens), in one
    transaction. The admin offers deactivation instead; this is for the shell and scripts."""
    if client.schema_name == get_public_schema_name():
        raise InvalidInput.field("schema_name", "the public tenant cannot be deleted")
    with transaction.atomic():
        connection.check_constraints()  # pending deferred checks would forbid the DROP
        client.delete(force_drop=True)  # the row, its domains (cascade) and the schema
