"""python manage.py tenant_template [--check | --rebuild]

The schema new clients are copied from (tenants.template). `migrate_schemas` and onboarding keep
it current by themselves; this shows its state, or rebuilds it on request.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from tenants import template


class Command(BaseCommand):
    help = "Check the tenant template schema and rebuild it if the migrations changed."

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--check", action="store_true", help="only report; exit status 1 if not current"
        )
        group.add_argument(
            "--rebuild", action="store_true", help="drop and rebuild it even if current"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        schema = template.template_schema_name()
        if options["check"]:
            with transaction.atomic():
                template.template_lock()
                status = template.template_check()
            self.stdout.write(f"{schema}: {status.reason}")
            if not status.current:
                sys.exit(1)
            return
        outcome = template.template_ensure(force=options["rebuild"])
        self.stdout.write(f"{schema}: {outcome}")
