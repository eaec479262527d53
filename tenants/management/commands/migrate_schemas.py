"""python manage.py migrate_schemas [django-tenants' options] [--all-schemas]

django-tenants' command, unchanged but for one option. Its executor (tenants.executors, set by
`GET_EXECUTOR_FUNCTION`) skips the tenant schemas that already have every migration, found in
one query; `--all-schemas` runs `migrate` in every one of them, as django-tenants does (for
example to re-run the post_migrate handlers, content types and permissions, everywhere).

This app is listed before `django_tenants` in INSTALLED_APPS so that this command is the one
`manage.py` finds.
"""

from __future__ import annotations

from django.core.management.base import CommandParser
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand


class Command(MigrateSchemasCommand):
    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--all-schemas",
            action="store_true",
            dest="all_schemas",
            help="run migrate in every tenant schema, also those already at the latest "
            "migrations (which are otherwise skipped after one query)",
        )
