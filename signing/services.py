"""Writes on signing keys (SPEC §9): a client's first key pair, rotation, retirement.

Every function that changes a client's keys holds a transaction-scoped advisory lock on the
client, so two rotations (or a rotation and the first login making the first key) take turns;
the database also allows one current key per client at most.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from ninja_jwt.settings import api_settings as jwt_settings

from audit.services import Event, record
from core.tenancy import dangerously_in_schema
from signing.crypto import key_pair_generate
from signing.keyring import KeyRing, keyring_for, keyring_invalidate, keyring_load
from signing.models import SigningKey
from tenants.models import Client

__all__ = ["key_ensure", "key_rotate", "keys_retire_expired", "tokens_outlive"]

log = logging.getLogger(__name__)


def tokens_outlive() -> timedelta:
    """How long a token signed now may stay valid: a replaced key verifies that long."""
    return max(jwt_settings.ACCESS_TOKEN_LIFETIME, jwt_settings.REFRESH_TOKEN_LIFETIME)


def _lock(client: Client) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext('tenantauth.signing'), %s)", [client.pk]
        )


def _create(client: Client, now: datetime) -> SigningKey:
    material = key_pair_generate(settings.JWT_ALGORITHM)
    return SigningKey.objects.create(
        client=client,
        kid=material.kid,
        algorithm=material.algorithm,
        state=SigningKey.State.CURRENT,
        public_jwk=material.public_jwk,
        private_key_encrypted=material.private_key_encrypted,
        created_at=now,
    )


def key_ensure(client: Client) -> KeyRing:
    """The client's ring with a key that signs with JWT_ALGORITHM: made now if it has none (a
    client onboarded before key pairs, or before a change of algorithm)."""
    ring = keyring_for(client)
    if ring.signing_key is not None and ring.signing_algorithm == settings.JWT_ALGORITHM:
        return ring
    with transaction.atomic():
        _lock(client)
        existing = SigningKey.objects.filter(client=client, state=SigningKey.State.CURRENT).first()
        if existing is None:
            _create(client, timezone.now())
            log.info("event=signing_key_created client_id=%s", client.pk)
        elif existing.algorithm != settings.JWT_ALGORITHM:
            _replace(client, retire_previous=False)
        # Not through the cache: the caller's transaction may still roll the new key back.
        return keyring_load(client.pk)


def key_rotate(*, client: Client, retire_previous: bool = False) -> SigningKey:
    """A new key signs from now on. The one it replaces keeps verifying until every token it
    signed has expired (the purge then retires it), or — `retire_previous`, after a compromise —
    stops at once with every other previous key, and every token they signed dies."""
    with transaction.atomic():
        _lock(client)
        return _replace(client, retire_previous=retire_previous)


def _replace(client: Client, *, retire_previous: bool) -> SigningKey:
    now = timezone.now()
    SigningKey.objects.filter(client=client, state=SigningKey.State.CURRENT).update(
        state=SigningKey.State.PREVIOUS, verify_until=now + tokens_outlive()
    )
    if retire_previous:
        _retire(SigningKey.objects.filter(client=client, state=SigningKey.State.PREVIOUS), now)
    key = _create(client, now)  # its post_save drops the ring in every process
    with dangerously_in_schema(client.schema_name):  # the client's own trail
        record(
            Event.SIGNING_KEY_ROTATED,
            detail={"kid": key.kid, "retire_previous": retire_previous},
        )
    log.info(
        "event=signing_key_rotated client_id=%s kid=%s retire_previous=%s",
        client.pk,
        key.kid,
        retire_previous,
    )
    return key


def _retire(keys: QuerySet[SigningKey], now: datetime) -> int:
    client_ids = set(keys.values_list("client_id", flat=True))
    # The private part goes with the key: a retired key signs and verifies nothing.
    retired = keys.update(state=SigningKey.State.RETIRED, retired_at=now, private_key_encrypted=b"")
    for client_id in client_ids:  # update() sends no signal
        keyring_invalidate(client_id)
    return int(retired)


def keys_retire_expired(*, now: datetime | None = None) -> int:
    """Retire every previous key whose tokens have all expired (the purge job's part)."""
    now = now or timezone.now()
    with transaction.atomic():
        return _retire(
            SigningKey.objects.filter(state=SigningKey.State.PREVIOUS, verify_until__lt=now), now
        )
