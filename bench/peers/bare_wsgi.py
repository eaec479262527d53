"""A bare WSGI hello world: the ceiling of the web server itself."""

from __future__ import annotations

from collections.abc import Callable, Iterable

BODY = b'{"hello": "world"}'


def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]
    )
    return [BODY]
