"""Create the public tenant and its domain (PUBLIC_HOST) if missing. Idempotent; run by the
migrate step of every deployment after `migrate_schemas`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django_tenants.utils import get_public_schema_name

from tenants.models import Client, Domain


class Command(BaseCommand):
    help = "Create the public tenant and its domain (PUBLIC_HOST) if missing."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            public, _ = Client.objects.get_or_create(
                schema_name=get_public_schema_name(), defaults={"name": "Platform"}
            )
            Domain.objects.get_or_create(
                domain=settings.PUBLIC_HOST, defaults={"tenant": public, "is_primary": True}
            )
        self.stdout.write(f"public tenant ready at {settings.PUBLIC_HOST}")
