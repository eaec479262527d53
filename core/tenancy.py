"""Crossing from the current schema into another: the one construct that can read or write
another tenant's rows, so it carries a name that review can grep for (`dangerously_`).

Request code never needs it (the tenant middleware sets the request's schema); the platform
admin's client list, onboarding and the purge fan-out do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection
from django_tenants.utils import schema_context

__all__ = ["current_schema_name", "dangerously_in_schema", "reset_to_public_schema"]


def current_schema_name() -> str:
    """The schema the connection is in (django-tenants' attribute, which the stubs lack)."""
    return str(connection.schema_name)  # type: ignore[attr-defined]


def reset_to_public_schema() -> None:
    connection.set_schema_to_public()  # type: ignore[attr-defined]


@contextmanager
def dangerously_in_schema(schema_name: str) -> Iterator[None]:
    """Run the block in `schema_name`, then return to the schema the connection was in."""
    with schema_context(schema_name):
        yield
