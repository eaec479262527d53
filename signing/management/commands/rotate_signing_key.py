"""python manage.py rotate_signing_key --schema NAME | --all [--retire-previous]

A new key pair signs each client's tokens from now on; the previous one keeps verifying until
every token it signed has expired (the purge then retires it), unless --retire-previous, which
drops it at once (a compromised key: every token it signed dies).
"""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django_tenants.utils import get_public_schema_name

from signing.services import key_rotate
from tenants.models import Client


class Command(BaseCommand):
    help = "Rotate the signing key pair of one client (--schema) or of every client (--all)."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--schema", help="the client's schema name")
        which.add_argument("--all", action="store_true", help="every client")
        parser.add_argument(
            "--retire-previous",
            action="store_true",
            help="stop verifying the replaced keys at once: every token they signed dies",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.JWT_ALGORITHM == "HS256":
            self._fail("JWT_ALGORITHM is HS256: there are no key pairs to rotate")
        clients = Client.objects.exclude(schema_name=get_public_schema_name()).order_by("pk")
        if options["schema"]:
            clients = clients.filter(schema_name=options["schema"])
            if not clients.exists():
                self._fail(f"no client with schema {options['schema']!r}")
        for client in clients:
            key = key_rotate(client=client, retire_previous=options["retire_previous"])
            self.stdout.write(f"{client.schema_name}: {key.kid}")

    def _fail(self, message: str) -> None:
        self.stderr.write(f"error: {message}")
        sys.exit(1)
