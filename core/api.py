"""The one NinjaAPI: routers, alias routes and the error handlers."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from ninja import NinjaAPI

api = NinjaAPI(title="tenantauth", version="1.0.0", urls_namespace="api")


def _urls_with_aliases() -> list[URLPattern | URLResolver]:
    return [path("api/", api.urls)]


api.urls_with_aliases = _urls_with_aliases  # type: ignore[attr-defined]


@api.get("/hello", include_in_schema=False, auth=None)
def hello(request):  # type: ignore[no-untyped-def]
    """A trivial unauthenticated endpoint through the whole middleware stack (benchmarks)."""
    return {"client_id": request.tenant.id, "client_name": request.tenant.name}
