"""Browser origins allowed per client (SPEC §8): what one is, and the CORS decision.

An origin is `scheme://host[:port]` exactly as a browser sends it in the `Origin` header: http or
https, a lower-case (IDNA) host, a port only when it is not the scheme's default, nothing else (no
path, query, user or trailing slash). The allowed list is stored in that form, so deciding is a
string comparison with the header.

CORS itself is django-cors-headers' (core.settings: the paths, methods, headers, max-age and
credentials); `origin_allowed` is its per-request check (`check_request_enabled`), connected in
tenants.apps: an origin is allowed only on the host of a client that lists it, so an origin
allowed for one client is worthless on another's host.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import DomainNameValidator, validate_ipv46_address
from django.http import HttpRequest

from core.errors import InvalidInput

__all__ = ["CORS_PATHS", "origin_allowed", "origin_normalize", "origins_clean"]

CORS_PATHS = re.compile(r"^/(api|auth|\.well-known)/")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST = DomainNameValidator(accept_idna=False)
_MAX_ORIGINS = 50


def origin_normalize(value: str) -> str:
    """`value` as a browser would send it in `Origin`; raises ValueError saying what is wrong."""
    raw = value.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise ValueError(f"{raw!r} is not an origin (scheme://host[:port])") from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{raw!r} is not an origin: it must start with http:// or https://")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(
            f"{raw!r} is not an origin: no path, query or user, only scheme://host[:port]"
        )
    host = parts.hostname.rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{raw!r} is not an origin: invalid host") from None
    try:
        if host.startswith("[") or ":" in host:
            validate_ipv46_address(host.strip("[]"))
            host = f"[{host.strip('[]')}]"
        elif host != "localhost" and not re.fullmatch(r"[\d.]+", host):
            _HOST(host)
        elif host != "localhost":
            validate_ipv46_address(host)
    except ValidationError:
        raise ValueError(f"{raw!r} is not an origin: invalid host") from None
    netloc = host if port is None or port == _DEFAULT_PORTS[parts.scheme] else f"{host}:{port}"
    return f"{parts.scheme}://{netloc}"


def origins_clean(values: list[str], *, field: str = "allowed_origins") -> list[str]:
    """Normalised, without duplicates, in the order given; InvalidInput names the bad one."""
    if len(values) > _MAX_ORIGINS:
        raise InvalidInput.field(field, f"at most {_MAX_ORIGINS} origins")
    cleaned: list[str] = []
    for value in values:
        try:
            origin = origin_normalize(value)
        except ValueError as exc:
            raise InvalidInput.field(field, str(exc)) from None
        if origin not in cleaned:
            cleaned.append(origin)
    return cleaned


PUBLIC_PATHS = frozenset({"/.well-known/jwks.json"})


def origin_allowed(sender: Any, request: HttpRequest, **_: Any) -> bool:
    """django-cors-headers' per-request check: the request's `Origin` is listed by the client of
    the request's host, and the path is one CORS is for; public documents (the JWKS) are for
    every origin."""
    tenant = getattr(request, "tenant", None)
    origin = request.headers.get("Origin")
    if origin and request.path_info in PUBLIC_PATHS:
        return True
    return bool(
        origin
        and tenant is not None
        and origin in tenant.allowed_origins
        and CORS_PATHS.match(request.path_info)
    )
