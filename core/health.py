"""GET /healthz (process up) and GET /readyz (database and Redis reachable), on any host.

Answered before tenant resolution, so a load balancer can probe with any Host header.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, cast

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

__all__ = ["HealthMiddleware", "readiness"]


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def _redis_ok() -> bool:
    try:
        client = cast(Any, cache)._cache.get_client(write=True)  # the cache's redis-py client
        return bool(client.ping())
    except Exception:
        return False


def readiness() -> dict[str, bool]:
    return {"database": _database_ok(), "redis": _redis_ok()}


class HealthMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path in ("/healthz", "/healthz/"):
            return JsonResponse({"status": "ok"})
        if path in ("/readyz", "/readyz/"):
            checks = readiness()
            failing = [name for name, ok in checks.items() if not ok]
            if failing:
                return JsonResponse(
                    {
                        "detail": "Not ready: " + ", ".join(failing) + " unreachable",
                        "code": "not_ready",
                        "checks": {k: "ok" if v else "unreachable" for k, v in checks.items()},
                    },
                    status=HTTPStatus.SERVICE_UNAVAILABLE,
                )
            return JsonResponse({"status": "ok", "checks": {k: "ok" for k in checks}})
        return self.get_response(request)
