"""Static API keys (SPEC §7, `Authorization: Token tat_…`): the DRF TokenAuthentication pattern,
done safely. A key is 32 random bytes shown once, when it is made; only its SHA-256 is stored.
A key is bound to one user of one client (it lives in that client's schema), may expire, dies
with its user, and is deleted by its owner, a tenant admin or a logout made with it.

Checking a key is authapi.tokens.api_token_for_client (the tenant chokepoint); everything here
runs in the schema the connection is set to.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DatabaseError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit import services as audit
from authapi import sessions
from authapi.models import ApiToken, User
from authapi.roles import admin_accounts, is_tenant_admin
from authapi.tokens import API_KEY_PREFIX, token_digest
from core.errors import NotFound
from core.tenancy import current_schema_name

__all__ = [
    "IssuedApiToken",
    "api_token_create",
    "api_token_create_with_password",
    "api_token_delete",
    "api_token_logout",
    "api_token_touch",
    "api_tokens_end_for_password",
    "api_tokens_revoke",
]

log = logging.getLogger(__name__)

_KEY_BYTES = 32
_PREFIX_LENGTH = len(API_KEY_PREFIX) + 8
DEFAULT_NAME = "API token"
# `last_used_at` is written at most this often per key: at every use it would turn each read
# request into a write.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedApiToken:
    record: ApiToken
    key: str  # shown to its owner once, never stored


def api_token_create(
    *, user: User, name: str | None, expires_in_days: int | None = None
) -> IssuedApiToken:
    """A new key for `user`, valid for `expires_in_days` days (or until deleted)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(_KEY_BYTES)
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=(name or DEFAULT_NAME).strip() or DEFAULT_NAME,
            prefix=key[:_PREFIX_LENGTH],
            digest=token_digest(key),
            created_at=now,
            expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        )
        # The key's id and name only: not its value, nor its prefix (a part of it).
        audit.record(
            audit.Event.API_TOKEN_CREATED,
            user_id=user.pk,
            username=user.username,
            detail={"token_id": token.pk, "name": token.name},
        )
    return IssuedApiToken(record=token, key=key)


def api_token_create_with_password(
    *,
    login: str,
    password: str,
    name: str | None,
    expires_in_days: int | None = None,
    info: sessions.ClientInfo = sessions.NO_CLIENT_INFO,
) -> IssuedApiToken:
    """DRF's obtain-token flow: a key for the user these credentials log in (a login in every
    way: protected, counted and audited; the same 401 as a failed login otherwise)."""
    user = sessions.credentials_check(login=login, password=password, info=info)
    with transaction.atomic():
        audit.record(
            audit.Event.LOGIN_SUCCEEDED,
            user_id=user.pk,
            username=user.username,
            detail={"via": "api_token"},
        )
        return api_token_create(user=user, name=name, expires_in_days=expires_in_days)


def api_token_delete(*, user: User, token_id: int) -> None:
    """Delete one key of `user`; any other id (someone else's, gone): 404."""
    with transaction.atomic():
        deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
        if not deleted:
            raise NotFound("No such API token")
        _revoked([(token_id, user.pk, user.username)], by="owner")


def api_tokens_revoke(*, actor: User, tokens: QuerySet[ApiToken]) -> tuple[int, int]:
    """Delete `tokens` for `actor` (the tenant admin's action). Only an admin may revoke an
    admin account's keys. Returns (revoked, refused as an admin's)."""
    refused = 0
    if not is_tenant_admin(actor):
        protected = admin_accounts(via="user__")
        refused = tokens.filter(protected).count()
        tokens = tokens.exclude(protected)
    with transaction.atomic():
        rows = list(tokens.values_list("pk", "user_id", "user__username"))
        revoked = tokens.delete()[1].get(ApiToken._meta.label, 0)
        _revoked(rows, by="admin")
    return revoked, refused


# Per process: when each key's last_used_at was last written, so a busy key costs one UPDATE a
# minute per process, and the UPDATE's own condition makes that one write a minute in all.
# Keyed by schema too: ids are numbered per schema.
_touched: dict[tuple[str, int], datetime] = {}
_TOUCHED_MAX = 100_000


def api_token_touch(record: ApiToken) -> None:
    """Note that `record` was used now, at most once a minute (never fails the request)."""
    wall = timezone.now()
    key = (current_schema_name(), record.pk)
    last = _touched.get(key)
    if last is not None and timedelta(0) <= wall - last < TOUCH_EVERY:
        return
    if len(_touched) >= _TOUCHED_MAX:
        _touched.clear()
    _touched[key] = wall
    try:
        # update(): no signal, so the cached key (which does not show last_used_at) stays warm.
        ApiToken.objects.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=wall - TOUCH_EVERY), pk=record.pk
        ).update(last_used_at=wall)
    except DatabaseError:
        log.warning("event=api_token_touch_failed token_id=%s", record.pk, exc_info=True)


def api_tokens_end_for_password(*, user: User) -> int:
    """A password was set: every API key of the user goes (keys are made from a login or with
    the password, and must not outlive a password change meant to lock someone out)."""
    with transaction.atomic():
        mine = ApiToken.objects.filter(user=user)
        rows = [(pk, user.pk, user.username) for pk in mine.values_list("pk", flat=True)]
        deleted = mine.delete()[1].get(ApiToken._meta.label, 0)
        _revoked(rows, by="password_changed")
    return deleted


def api_token_logout(*, record: ApiToken) -> None:
    """A logout made with the key itself: the key is deleted."""
    with transaction.atomic():
        ApiToken.objects.filter(pk=record.pk).delete()  # authapi.signals drops the cached key
        _revoked([(record.pk, record.user_id, "")], by="logout")


def _revoked(rows: list[tuple[int, int, str]], *, by: str) -> None:
    audit.record_many(
        audit.Event.API_TOKEN_REVOKED,
        [
            {"user_id": user_id, "username": name, "detail": {"token_id": pk, "by": by}}
            for pk, user_id, name in rows
        ],
    )
