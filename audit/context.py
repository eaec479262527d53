"""Where the current request comes from, for the events written deep inside services (SPEC §10:
every event carries the client IP and user agent). A middleware, first in both stacks after the
tenant, keeps the request in a context variable; nothing is computed until an event is written.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

from core.clientip import client_ip

__all__ = ["AuditContextMiddleware", "request_origin"]

_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


def request_origin() -> tuple[str | None, str]:
    """(client IP, user agent) of the request being served; (None, "") outside one."""
    request = _request.get()
    if request is None:
        return None, ""
    return client_ip(request), request.headers.get("User-Agent", "")[:256].replace("\x00", "")
