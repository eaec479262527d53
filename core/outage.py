"""The database unreachable: 503 with `Retry-After`, never a 500.

While PostgreSQL restarts (or a failover, or a network cut) every query fails with psycopg's
OperationalError or InterfaceError, which Django re-raises as its own classes of the same names.
Those are answered 503: `{"detail", "code": "database_unavailable"}` under /api/, /auth/ and
/.well-known/, a plain page elsewhere (the admins, the login pages). Django's persistent
connections need nothing more to recover: a connection that failed is closed at the end of its
request, and CONN_HEALTH_CHECKS tests a kept one before its first use in every request, so the
same worker serves again as soon as the database accepts connections (core.hotpath.dbbackend
forgets the search_path it remembered with the connection).

Where such an error can surface, and who turns it into the 503:
- a Ninja view (every JSON route): core.api's last exception handler;
- the tenant middleware's host lookup (before any view): tenants.middleware;
- any other view (the admins, the login pages): `DatabaseOutageMiddleware.process_exception`;
- anywhere else (another middleware, the session save): Django answers 500 and sends
  `got_request_exception` while the error is current; the receiver here marks the request, and
  `DatabaseOutageMiddleware`, outermost but for SecurityMiddleware, replaces that 500 with the 503.

The other transient OperationalErrors (a deadlock, a serialization failure, a statement
timeout) also mean "try again": they get the same answer.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import psycopg
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from core.envelope import error_response

__all__ = [
    "DATABASE_ERRORS",
    "RETRY_AFTER_SECONDS",
    "DatabaseOutageMiddleware",
    "database_unavailable",
    "is_database_outage",
]

log = logging.getLogger(__name__)

DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
# A PostgreSQL restart takes a few seconds; a client retrying sooner only adds load.
RETRY_AFTER_SECONDS = 5
_API_PREFIXES = ("/api/", "/auth/", "/.well-known/")
_MARK = "_tenantauth_database_outage"
_LOG_EVERY = 5.0  # seconds: one log line per process and interval, however many requests fail


def is_database_outage(exc: BaseException | None) -> bool:
    """True for a database connection failure, also when another error wraps it."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, DATABASE_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


class _Throttle:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0.0
        self._suppressed = 0

    def log(self, request: HttpRequest, exc: BaseException | None) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < _LOG_EVERY:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._last = self._suppressed, 0, now
        log.warning(
            "event=database_unavailable path=%s error=%r suppressed=%d",
            request.path,
            str(exc).strip()[:200] if exc is not None else None,
            suppressed,
        )


_throttle = _Throttle()


def database_unavailable(request: HttpRequest, exc: BaseException | None = None) -> HttpResponse:
    """The 503 for `request`: the JSON error shape on the API's paths, a plain page elsewhere."""
    _throttle.log(request, exc)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.path_info.startswith(_API_PREFIXES):
        return error_response(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "database_unavailable",
            "The database is unavailable; try again shortly",
            headers=headers,
        )
    response = HttpResponse(
        "<!doctype html><title>Service unavailable</title>"
        "<h1>Service unavailable</h1><p>Please try again in a few seconds.</p>",
        status=HTTPStatus.SERVICE_UNAVAILABLE,
        content_type="text/html; charset=utf-8",
    )
    response["Retry-After"] = headers["Retry-After"]
    return response


def _mark_request(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    if request is not None and is_database_outage(sys.exc_info()[1]):
        setattr(request, _MARK, True)


got_request_exception.connect(_mark_request, dispatch_uid="core.outage.mark_request")


class DatabaseOutageMiddleware:
    """In both middleware stacks, right after SecurityMiddleware (see the module's docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR and getattr(
            request, _MARK, False
        ):
            return database_unavailable(request)
        return response

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if is_database_outage(exc):
            return database_unavailable(request, exc)
        return None
