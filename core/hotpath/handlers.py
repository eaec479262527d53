"""Two middleware stacks: a short one for the JSON API, the full one for everything else.

Requests under /api/ and /auth/ carry Bearer tokens, never cookies, so the session, CSRF,
authentication and message middleware have nothing to do there but still cost every request
(they are a sizeable share of a trivial API request's time). Those requests go through
`settings.API_MIDDLEWARE` instead; the admin and the login pages keep `settings.MIDDLEWARE`.

Each stack lives in its own handler object: Django keeps the process_view / exception hooks of
a stack on the handler, so sharing one handler would mix the two stacks' hooks (and could drop
CSRF's process_view from the admin).
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponseBase

from core import hotpath

__all__ = ["API_PREFIXES", "ApiFastPath", "ApiWSGIHandler", "is_api_path"]

API_PREFIXES = ("/api/", "/auth/", "/.well-known/")
_ENABLED = hotpath.enabled("api_stack")


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


# Two stacks built at once in two threads (test clients in threads build theirs lazily) would
# otherwise interleave the swap below, and one would "restore" the API list as settings.MIDDLEWARE
# for good: every handler built afterwards (a live test server) would lack sessions and CSRF.
_building = threading.Lock()


class _ApiStack(BaseHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler reads settings.MIDDLEWARE; point it at the API list while this stack is
        # built (once per process, at start-up).
        with _building:
            full = settings.MIDDLEWARE
            settings.MIDDLEWARE = settings.API_MIDDLEWARE
            try:
                super().load_middleware(is_async)
            finally:
                settings.MIDDLEWARE = full


class ApiFastPath:
    """Mix into a Django handler class (before it) to route API paths to the API stack."""

    _api_stack: _ApiStack | None = None

    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        if _ENABLED and is_api_path(request.path_info):
            if self._api_stack is None:
                stack = _ApiStack()
                stack.load_middleware()
                self._api_stack = stack
            return self._api_stack.get_response(request)
        return super().get_response(request)  # type: ignore[misc]


class ApiWSGIHandler(ApiFastPath, WSGIHandler):
    """The production WSGI handler (core.wsgi)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        stack = _ApiStack()
        stack.load_middleware()
        self._api_stack = stack
