"""Signing and verifying JWTs with the client's own keys (SPEC §9).

- ES256/RS256 (JWT_ALGORITHM): a token is signed with the client's current key and names it in
  its `kid` header; it verifies only with a key of *that* client found by that kid, and only
  with the configured algorithm. A kid of another client, an unknown kid, `alg: none`, or an
  HS256 token made with a public key as its secret are refused; `jku`, `x5u` and `jwk` headers
  are never read.
- HS256 tokens signed with the shared secret (NINJA_JWT's SIGNING_KEY) are accepted in HS256
  mode, and after a switch to a key pair only as tokens from before the upgrade living out their
  lifetime: issued (`iat`) before the client's first key pair, lasting no longer than a token
  of ours lasts, and only until one such lifetime after that key pair was made. After that the
  shared secret signs nothing any client accepts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import jwt
from django.conf import settings
from ninja_jwt.settings import api_settings as jwt_settings

from signing.keyring import keyring_for
from signing.services import key_ensure, tokens_outlive
from tenants.models import Client

__all__ = ["SignatureInvalid", "issuer_for", "jwt_encode", "jwt_verify", "kid_still_verifies"]

_LEGACY = "HS256"


class SignatureInvalid(Exception):
    """Not a token this client's keys (or the legacy secret) made, or expired."""


def jwt_encode(payload: dict[str, Any], client: Client) -> str:
    if settings.JWT_ALGORITHM == _LEGACY:
        return jwt.encode(payload, jwt_settings.SIGNING_KEY, algorithm=_LEGACY)
    ring = key_ensure(client)
    if ring.signing_key is None:
        raise RuntimeError(f"client {client.pk} has no signing key")
    return jwt.encode(
        payload,
        ring.signing_key,
        algorithm=ring.signing_algorithm,
        headers={"kid": ring.signing_kid},
    )


def _decode(raw: str, key: Any, algorithm: str) -> dict[str, Any]:
    try:
        return jwt.decode(
            raw,
            key,
            algorithms=[algorithm],
            options={"require": ["exp"], "verify_aud": False, "verify_iss": False},
            leeway=jwt_settings.LEEWAY,
        )
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise SignatureInvalid from None


def jwt_verify(raw: str, client: Client) -> tuple[dict[str, Any], str | None]:
    """The payload of `raw` (signature and expiry checked) and the kid that verified it (None:
    the legacy secret). Raises SignatureInvalid."""
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.InvalidTokenError:
        raise SignatureInvalid from None
    algorithm, kid = header.get("alg"), header.get("kid")
    configured = settings.JWT_ALGORITHM
    if algorithm == configured and configured != _LEGACY:
        key = keyring_for(client).verifying.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise SignatureInvalid
        return _decode(raw, key, algorithm), kid
    if algorithm == _LEGACY and "kid" not in header:
        payload = _decode(raw, jwt_settings.SIGNING_KEY, _LEGACY)
        if configured != _LEGACY and not _legacy_acceptable(client, payload):
            raise SignatureInvalid
        return payload, None
    raise SignatureInvalid


def _legacy_acceptable(client: Client, payload: dict[str, Any]) -> bool:
    issued, expires = payload.get("iat"), payload.get("exp")
    if not isinstance(issued, (int, float)) or not isinstance(expires, (int, float)):
        return False
    lifetime = tokens_outlive().total_seconds()
    if expires - issued > lifetime:
        return False  # longer-lived than anything we ever issued: forged with the secret
    since = keyring_for(client).since
    if since is None:
        return True  # no key pair yet: every token of this client is from before the switch
    return issued < since.timestamp() and time.time() < since.timestamp() + lifetime


def kid_still_verifies(client: Client, kid: str | None, payload: Mapping[str, Any]) -> bool:
    """Whether a token verified earlier would still verify: its key not retired, or (verified
    by the legacy secret) still inside the upgrade window."""
    if kid is not None:
        return kid in keyring_for(client).verifying
    return settings.JWT_ALGORITHM == _LEGACY or _legacy_acceptable(client, dict(payload))


def issuer_for(client: Client, request_base: str | None = None) -> str:
    """The `iss` of the client's tokens: `https://<primary domain>`, or with DEBUG on the scheme
    and host (with port) the request came to, so that `make run`'s tokens name a URL that works."""
    if settings.DEBUG and request_base:
        return request_base
    return f"https://{keyring_for(client).primary_domain}"
