"""python manage.py create_client --name "Acme Corp" --schema acme --domain acme.localhost
--admin-username admin --admin-email admin@acme.test [--admin-password ... | $CLIENT_ADMIN_PASSWORD]
[--allowed-origin https://app.acme.com ...]
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser

from core.errors import InvalidInput
from onboarding.services import client_onboard


class Command(BaseCommand):
    help = (
        "Onboard a client: schema (a copy of the migrated tenant template), primary domain, "
        "first admin user, in one transaction."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--schema", required=True)
        parser.add_argument("--domain", required=True)
        parser.add_argument("--admin-username", required=True)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument(
            "--admin-password",
            default=None,
            help="defaults to the environment variable CLIENT_ADMIN_PASSWORD",
        )
        parser.add_argument(
            "--allowed-origin",
            action="append",
            default=[],
            metavar="ORIGIN",
            help="a browser origin (scheme://host[:port]) whose pages may call the client's "
            "API with credentials (CORS); repeat for several",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["admin_password"] or os.environ.get("CLIENT_ADMIN_PASSWORD")
        if not password:
            self._fail("admin password missing: pass --admin-password or set CLIENT_ADMIN_PASSWORD")
        try:
            client = client_onboard(
                name=options["name"],
                schema_name=options["schema"],
                domain=options["domain"],
                admin_username=options["admin_username"],
                admin_email=options["admin_email"],
                admin_password=password,
                allowed_origins=options["allowed_origin"],
            )
        except InvalidInput as exc:
            self._fail("; ".join(e["message"] for e in exc.errors))
        self.stdout.write(str(client.id))

    def _fail(self, message: str) -> NoReturn:
        # One line and exit status 1, without a traceback (CommandError would do the same but
        # prints "CommandError:" and, with --traceback, a stack).
        self.stderr.write(f"error: {message}")
        sys.exit(1)
