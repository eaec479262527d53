"""A client's keys as the hot path needs them (core.hotpath, "signing_keys"): the key that signs,
the public keys that verify (by kid), the JWKS document, when the client's first key was made
and its issuer's domain — loaded once per process and client (three queries), decrypted once,
and dropped in every process when a key or a domain of the client changes.

The key objects are `cryptography`'s, immutable; the rest is frozen, so one KeyRing is shared by
every request of the process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.db.models import Min
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from core import hotpath
from core.hotpath.localcache import LocalCache
from signing.crypto import PrivateKey, PublicKey, private_key_decrypt, public_key_from_jwk
from signing.models import SigningKey
from tenants.models import Client, Domain

__all__ = ["KeyRing", "keyring_for", "keyring_invalidate", "keyring_load"]


@dataclass(frozen=True)
class KeyRing:
    client_id: int
    signing_kid: str | None
    signing_algorithm: str | None
    signing_key: PrivateKey | None
    verifying: MappingProxyType[str, PublicKey]
    jwks_json: str  # {"keys": [...]}: public parts only
    since: datetime | None  # the client's first key pair: HS256 tokens issued before stay valid
    primary_domain: str


_cache: LocalCache[KeyRing] = LocalCache(
    "signing_keys",
    max_entries=settings.HOST_CACHE_SIZE,
    enabled=hotpath.enabled("signing_keys"),
)


def keyring_for(client: Client) -> KeyRing:
    return _cache.get(client.pk, lambda: _load(client.pk))


def keyring_invalidate(client_id: int) -> None:
    """Drop the client's ring here and, after commit, in every process."""
    _cache.invalidate(client_id)


def keyring_load(client_id: int) -> KeyRing:
    """The ring as the database has it now, not cached (inside a transaction that changed it)."""
    return _load(client_id)


def _load(client_id: int) -> KeyRing:
    keys = list(
        SigningKey.objects.filter(client_id=client_id)
        .exclude(state=SigningKey.State.RETIRED)
        .only("kid", "algorithm", "state", "public_jwk", "private_key_encrypted")
    )
    since = SigningKey.objects.filter(client_id=client_id).aggregate(first=Min("created_at"))
    primary = (
        Domain.objects.filter(tenant_id=client_id, is_primary=True)
        .values_list("domain", flat=True)
        .first()
    )
    current = next((k for k in keys if k.state == SigningKey.State.CURRENT), None)
    public: list[dict[str, Any]] = [k.public_jwk for k in keys]
    return KeyRing(
        client_id=client_id,
        signing_kid=current.kid if current else None,
        signing_algorithm=current.algorithm if current else None,
        signing_key=private_key_decrypt(bytes(current.private_key_encrypted)) if current else None,
        verifying=MappingProxyType({k.kid: public_key_from_jwk(k.public_jwk) for k in keys}),
        jwks_json=json.dumps({"keys": public}),
        since=since["first"],
        primary_domain=primary or "",
    )


@receiver(post_save, sender=SigningKey)
@receiver(post_delete, sender=SigningKey)
def _key_changed(instance: SigningKey, **_: Any) -> None:
    keyring_invalidate(instance.client_id)


@receiver(post_save, sender=Domain)
@receiver(post_delete, sender=Domain)
def _domain_changed(instance: Domain, **_: Any) -> None:
    keyring_invalidate(instance.tenant_id)
