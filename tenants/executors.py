"""`migrate_schemas` executors that also bring the tenant template up to date.

Wired in through django-tenants' `GET_EXECUTOR_FUNCTION` setting: the executor named by
`--executor` (standard, multiprocessing, ...) runs as usual, and when it has migrated the tenant
schemas (a whole run, not `--schema NAME`, `--shared`, `--plan` or `--check`) the template is
checked and rebuilt if the migrations changed, in the main process. Onboarding checks the template
again anyway (tenants.template), so this only moves the rebuild out of the first onboarding.
"""

from __future__ import annotations

import functools
from typing import Any

from django_tenants.migration_executors import get_executor as _get_base_executor
from django_tenants.migration_executors.base import MigrationExecutor

__all__ = ["get_executor"]


def get_executor(codename: str | None = None) -> type[MigrationExecutor]:
    return _with_template_refresh(_get_base_executor(codename=codename))


@functools.cache
def _with_template_refresh(base: type[MigrationExecutor]) -> type[MigrationExecutor]:
    class TemplateRefreshingExecutor(base):
        def run_migrations(self, tenants: Any = None) -> None:
            refresh = self._is_tenant_pass(tenants)
            super().run_migrations(tenants=tenants)
            if refresh:
                from tenants.template import template_ensure

                template_ensure()

        def _is_tenant_pass(self, tenants: Any) -> bool:
            options = self.options
            if options.get("schema_name") or options.get("plan") or options.get("check_unapplied"):
                return False
            return list(tenants or []) != [self.PUBLIC_SCHEMA_NAME]

    TemplateRefreshingExecutor.__name__ = f"TemplateRefreshing{base.__name__}"
    TemplateRefreshingExecutor.__qualname__ = TemplateRefreshingExecutor.__name__
    return TemplateRefreshingExecutor
