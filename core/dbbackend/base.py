"""django-tenants' PostgreSQL backend, minus two round trips per request.

1. django-tenants forgets the search_path it set whenever the tenant is set — which its
   middleware does on every request (public first, then the tenant) — so every request that
   touches the database starts with `SET search_path`, even on a persistent connection that
   already has exactly that path. Here the path actually in effect on the session is
   remembered, and the SET is skipped when it already matches. It is forgotten whenever the
   session's value could differ from it: on close, rollback and savepoint rollback (a SET made
   inside a transaction is undone by its rollback), and if the SET itself failed.
2. Django's CONN_HEALTH_CHECKS runs `SELECT 1` before the first query of every request. A
   connection used moments ago is alive for all practical purposes, so the check only runs
   when the connection has been idle for HEALTH_CHECK_IDLE_SECONDS; that is when connections
   die (database restarts, idle timeouts of poolers and firewalls).
"""

from __future__ import annotations

import time

from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper

__all__ = ["HEALTH_CHECK_IDLE_SECONDS", "DatabaseWrapper"]

HEALTH_CHECK_IDLE_SECONDS = 1.0


class DatabaseWrapper(TenantDatabaseWrapper):
    def __init__(self, *args: object, **kwargs: object) -> None:
        self._session_search_path: list[str] | None = None
        self._used_at = float("-inf")
        self._idle_seconds = float("inf")
        super().__init__(*args, **kwargs)

    # --- 1. search_path ---------------------------------------------------------------------

    def set_tenant(self, tenant: object, include_public: bool = True) -> None:
        super().set_tenant(tenant, include_public)
        session = self._session_search_path
        if session is not None and session == self._get_cursor_search_paths():
            self.search_path_set_schemas = session

    def _handle_search_path(self, cursor: object = None) -> None:
        super()._handle_search_path(cursor)
        current = self.search_path_set_schemas
        self._session_search_path = list(current) if current is not None else None

    def _forget_search_path(self) -> None:
        self._session_search_path = None

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

    # --- 2. health checks -------------------------------------------------------------------

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and self._idle_seconds < HEALTH_CHECK_IDLE_SECONDS
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def close_if_unusable_or_obsolete(self) -> None:
        # Called at the start and at the end of every request (close_old_connections). At the
        # start, the time since the previous call is how long the connection sat idle.
        super().close_if_unusable_or_obsolete()
        now = time.monotonic()
        self._idle_seconds = now - self._used_at if self.connection is not None else float("inf")
        self._used_at = now
