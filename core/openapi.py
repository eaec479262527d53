"""What the OpenAPI document must say that Django Ninja cannot declare on a route.

Ninja documents bodies, responses and security from the routes; it has no place for response
headers and leaves an operation without auth with no `security` at all (which means "the
document's default", not "anonymous"). `complete` adds, for every operation: `security: []` when
it needs no credentials, `WWW-Authenticate` on its 401 and `Retry-After` on its 429. The result
is checked by openapi-spec-validator in the tests.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SERVERS", "complete"]

# Every client calls the API on its own host, so the one server is "the host that served this
# document".
SERVERS = [{"url": "/", "description": "your client's host (e.g. https://acme.example.com)"}]

_HEADERS = {
    "401": {
        "WWW-Authenticate": {
            "description": "Always `Bearer`.",
            "schema": {"type": "string", "const": "Bearer"},
        }
    },
    "429": {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def complete(document: dict[str, Any]) -> dict[str, Any]:
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _METHODS:
                continue
            operation.setdefault("security", [])
            responses = operation.get("responses", {})
            for status, headers in _HEADERS.items():
                # Ninja keys responses by int status; JSON makes them strings.
                response = responses.get(int(status), responses.get(status))
                if response is not None:
                    response.setdefault("headers", {}).update(headers)
    return document
