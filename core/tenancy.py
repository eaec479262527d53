"""Crossing from the current schema into another: the one construct that can read or write
another tenant's rows, so it carries a name that review can grep for (`dangerously_`).

Request code never needs it (the tenant middleware sets the request's schema); the platform
admin's client list, onboarding and the purge fan-out do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django_tenants.utils import schema_context

__all__ = ["dangerously_in_schema"]


@contextmanager
def dangerously_in_schema(schema_name: str) -> Iterator[None]:
    """Run the block in `schema_name`, then return to the schema the connection was in."""
    with schema_context(schema_name):
        yield
