"""`migrate_schemas` executors that skip the tenant schemas already at the latest migrations and
then bring the tenant template up to date.

Wired in through django-tenants' `GET_EXECUTOR_FUNCTION` setting: the executor named by
`--executor` (standard, multiprocessing, ...) runs as usual, with two additions on a whole tenant
pass (not `--schema NAME` or `--shared`):

* before it (`--check` included: a current schema has nothing unapplied), one query
  (tenants.migration_state) finds the schemas that miss a migration, and the executor is
  handed only those. A run with nothing to apply over 10,000 schemas is then that query, not
  10,000 `migrate` commands. `migrate_schemas --all-schemas`
  (tenants/management/commands/migrate_schemas.py) hands it every schema, as django-tenants
  does; so do a target migration (`migrate_schemas app 0001`), `--prune`, `--run-syncdb` and
  `--plan`, which can have work to do (or something to show) in a schema that is current.
* every schema's `migrate` skips the system checks, which the command ran once already.
* after it (not with `--plan` or `--check`), the template is checked and rebuilt if the
  migrations changed, in the main process. Onboarding checks the template again anyway
  (tenants.template), so this only moves the rebuild out of the first onboarding.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from typing import Any

from django_tenants.migration_executors import get_executor as _get_base_executor
from django_tenants.migration_executors.base import MigrationExecutor

__all__ = ["get_executor"]

log = logging.getLogger(__name__)

# Options with which a schema that has every migration recorded can still have work to do.
_NO_SKIPPING = ("all_schemas", "app_label", "migration_name", "prune", "run_syncdb", "plan")


def get_executor(codename: str | None = None) -> type[MigrationExecutor]:
    return _with_skip_and_template_refresh(_get_base_executor(codename=codename))


@functools.cache
def _with_skip_and_template_refresh(base: type[MigrationExecutor]) -> type[MigrationExecutor]:
    class TemplateRefreshingExecutor(base):
        options: dict[str, Any]  # django-tenants' executor is untyped

        def run_migrations(self, tenants: Any = None) -> None:
            tenant_pass = self._is_tenant_pass(tenants)
            if tenant_pass and not any(self.options.get(option) for option in _NO_SKIPPING):
                tenants = self._behind(list(tenants or []))
            if tenant_pass:
                # migrate_schemas ran the system checks once when it started; without this,
                # every schema's `migrate` would run all of them again (Django's migrate checks
                # unless told to skip), for the same code and the same database.
                self.options = {**self.options, "skip_checks": True}
            super().run_migrations(tenants=tenants)
            report_only = self.options.get("plan") or self.options.get("check_unapplied")
            if tenant_pass and not report_only:
                from tenants.template import template_ensure

                started = time.perf_counter()
                template_ensure()
                seconds = time.perf_counter() - started
                log.info("event=tenant_template_checked seconds=%.3f", seconds)
                if int(self.options.get("verbosity", 1)) >= 1:
                    sys.stdout.write(f"Tenant template checked in {seconds:.1f} s\n")

        def _is_tenant_pass(self, tenants: Any) -> bool:
            if self.options.get("schema_name"):
                return False
            return list(tenants or []) != [self.PUBLIC_SCHEMA_NAME]

        def _behind(self, schemas: list[str]) -> list[str]:
            from tenants.migration_state import schemas_behind

            started = time.perf_counter()
            behind = schemas_behind(schemas)
            seconds = time.perf_counter() - started
            log.info(
                "event=migrate_schemas_skip schemas=%d behind=%d seconds=%.3f",
                len(schemas),
                len(behind),
                seconds,
            )
            if int(self.options.get("verbosity", 1)) >= 1:
                sys.stdout.write(
                    f"{len(schemas) - len(behind)} of {len(schemas)} tenant schemas are at the "
                    f"latest migrations and skipped (checked in {seconds:.1f} s); migrating "
                    f"{len(behind)} (--all-schemas to run every one)\n"
                )
            return behind

    TemplateRefreshingExecutor.__name__ = f"TemplateRefreshing{base.__name__}"
    TemplateRefreshingExecutor.__qualname__ = TemplateRefreshingExecutor.__name__
    return TemplateRefreshingExecutor
