"""Outermost in both middleware stacks (settings.MIDDLEWARE and API_MIDDLEWARE), so it ids, times
and counts everything, health checks and the tenant 404 included:

- takes `X-Request-ID` when it is sane or makes one (core.observability.context), keeps it
  current while the request runs (every log line carries it) and echoes it in the response;
- answers GET /metrics itself, before anything else runs (core.observability.exposition);
- counts the request and its latency by route pattern, method and status;
- writes one log line (`tenantauth.request`): request id, client schema, method, route,
  status, duration in ms and user id. Never the path's query string, a header or a body: the
  route pattern stands for the path.

Cost: an id, a header, two metric updates (their label set looked up once per process) and,
when INFO is on, the line; deploy/README.md ("What it costs a request") has the figures.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

from core.observability import metrics
from core.observability.context import request_id_from, use_request_id
from core.observability.exposition import METRICS_PATH, metrics_response

__all__ = ["RequestObservabilityMiddleware", "route_of"]

log = logging.getLogger("tenantauth.request")

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Answered by middleware before URL resolution, so they have no pattern of their own.
_FIXED_ROUTES = {
    "/healthz": "/healthz",
    "/healthz/": "/healthz",
    "/readyz": "/readyz",
    "/readyz/": "/readyz",
    METRICS_PATH: METRICS_PATH,
}
UNMATCHED = "unmatched"


def route_of(request: HttpRequest) -> str:
    """The URL pattern that served the request (`/api/auth/sessions/<id>/`), one of a few fixed
    names, or `unmatched`: never the path itself, which a client can vary without end."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        return "/" + match.route
    path = request.path_info
    fixed = _FIXED_ROUTES.get(path)
    if fixed is not None:
        return fixed
    if path.startswith(settings.STATIC_URL):
        return "static"
    return UNMATCHED


def _user_id(request: HttpRequest) -> int | None:
    # The API's auth leaves the user on request.auth; the session side on request.user, read
    # only when something already evaluated it (reading it would cost a session query).
    user = getattr(request, "auth", None)
    if user is None:
        lazy = request.__dict__.get("user")
        if lazy is None or getattr(lazy, "_wrapped", empty) is empty:
            return None
        user = lazy
    if getattr(user, "is_authenticated", False):
        return getattr(user, "pk", None)
    return None


def _schema(request: HttpRequest) -> str | None:
    tenant = getattr(request, "tenant", None)
    return getattr(tenant, "schema_name", None)


class RequestObservabilityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        request_id = request_id_from(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id  # type: ignore[attr-defined]
        # Current until the response is closed (request_finished), not just until this returns:
        # Django logs a 4xx/5xx ("Not Found: …") after the middleware, and that line is the
        # request's too.
        use_request_id(request_id)
        if request.path_info == METRICS_PATH and request.method in ("GET", "HEAD"):
            response = metrics_response(request)
        else:
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        self._observe(request, response, time.perf_counter() - start)
        return response

    def _observe(self, request: HttpRequest, response: HttpResponse, seconds: float) -> None:
        route = route_of(request)
        method = request.method if request.method in _METHODS else "other"
        schema = _schema(request)
        status = response.status_code
        metrics.request_observed(
            route=route, method=method, status=status, seconds=seconds, client=schema
        )
        if metrics.caches_flush_due():
            metrics.caches_flush()
        if log.isEnabledFor(logging.INFO):
            user_id = _user_id(request)
            fields = {
                "event": "request",
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "schema": schema,
                "user_id": user_id,
            }
            log.info("request", extra={"fields": fields})


@receiver(request_finished, dispatch_uid="tenantauth.request_id_done")
def _request_id_done(**kwargs: object) -> None:
    use_request_id(None)
