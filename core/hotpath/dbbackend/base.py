"""django-tenants' PostgreSQL backend, minus the `SET search_path` of every request
(core.hotpath, `search_path`).

django-tenants forgets the search_path it set whenever the tenant is set —
which its middleware does on every request (public first, then the tenant) — so every request
that touches the database starts with `SET search_path`, even on a persistent connection that
already has exactly that path. Here the path actually in effect on the session is remembered,
and the SET is skipped when it already matches. It is forgotten whenever the session's value
could differ from it: on connect, close, rollback and savepoint rollback (a SET made inside a
transaction is undone by its rollback), and if the SET itself failed. A wrong path would read
another tenant's rows, so with HOTPATH_VERIFY_SEARCH_PATH (on in the tests) every skipped SET
is checked against the session and a difference raises SearchPathMismatch.

Its introspection lists a schema's tables without scanning every schema's
(core.hotpath.dbbackend.introspection): `migrate` over 10,000 schemas depends on it.

(A second mechanism, skipping CONN_HEALTH_CHECKS' `SELECT 1` on a connection used within the
last second, bought about 2% on refresh and nothing on hello or user, whose warm requests touch
no database: it was removed, see bench/README.md, "Hot path, one mechanism at a time".)
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper
from django_tenants.utils import get_limit_set_calls

from core.hotpath.dbbackend.introspection import TableListIntrospection

__all__ = ["DatabaseWrapper", "SearchPathMismatch"]


class SearchPathMismatch(RuntimeError):
    """The remembered search_path is not the session's: a query would run in the wrong schema."""


def _parse_search_path(shown: str) -> list[str]:
    return [part.strip().strip('"') for part in shown.split(",") if part.strip()]


class DatabaseWrapper(TenantDatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from core import hotpath

        self._session_search_path: list[str] | None = None
        self._keep_search_path = hotpath.enabled("search_path")
        self._verify_search_path = settings.HOTPATH_VERIFY_SEARCH_PATH
        super().__init__(*args, **kwargs)
        self.introspection = TableListIntrospection(self)

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None:
        super().set_tenant(tenant, include_public)
        session = self._session_search_path
        if (
            self._keep_search_path
            and session is not None
            and session == self._get_cursor_search_paths()
        ):
            self.search_path_set_schemas = session

    def _handle_search_path(self, cursor: Any = None) -> None:
        skipped = bool(
            get_limit_set_calls() and self.search_path_set_schemas and not self._setting_search_path
        )
        super()._handle_search_path(cursor)
        current = self.search_path_set_schemas
        self._session_search_path = list(current) if current is not None else None
        if skipped and self._verify_search_path and current is not None:
            self._check_session_search_path(current)

    def _check_session_search_path(self, expected: list[str]) -> None:
        # On the driver's own connection: invisible to query counting, so budgets stay exact.
        try:
            row = self.connection.execute("SHOW search_path").fetchone()
        except Exception:
            return  # an aborted transaction: its next statement fails anyway
        if row is None or _parse_search_path(row[0]) != list(expected):
            raise SearchPathMismatch(f"session search_path is {row!r}, expected {expected!r}")

    def _forget_search_path(self) -> None:
        self._session_search_path = None

    def connect(self) -> None:
        # A new session starts with the server's default path, whatever the last one had.
        self._forget_search_path()
        super().connect()

    def close(self) -> None:
        self._forget_search_path()
        super().close()

    def rollback(self) -> None:
        self._forget_search_path()
        super().rollback()

    def savepoint_rollback(self, sid: str) -> None:
        try:
            super().savepoint_rollback(sid)
        finally:
            self._forget_search_path()
