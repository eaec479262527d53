"""The active user behind a token, answered without SQL once warm.

Every Bearer request and every verify needs "who is this, and are they still active?"; it must
refuse a deactivated or deleted user at once (SPEC §3) but should not cost a query per call.
Each process caches the user's row (an immutable tuple; a fresh User is built from it per
request) and every process drops it the moment the user is saved or deleted (authapi.signals,
through core.localcache: Redis pub/sub, and no caching at all while this process is not
subscribed). Only `QuerySet.update()` and raw SQL bypass the signals; entries also expire after
`MAX_AGE` seconds to bound that case.
"""

from __future__ import annotations

from django.db import connection

from authapi import selectors
from authapi.models import User
from core.localcache import LocalCache

__all__ = ["MAX_AGE", "forget", "user_get_active", "user_is_active"]

MAX_AGE = 30.0
_rows: LocalCache[tuple[object, ...] | None] = LocalCache(
    "users", max_entries=50_000, max_age=MAX_AGE
)


def _row(user_id: object) -> tuple[object, ...] | None:
    if not selectors.valid_user_id(user_id):
        return None
    return _rows.get(
        f"{connection.schema_name}:{user_id}",
        lambda: selectors.user_row_active(user_id=user_id),
    )


def user_get_active(*, user_id: object) -> User | None:
    """The existing, active user `user_id` of the current schema, or None."""
    row = _row(user_id)
    return None if row is None else selectors.user_from_row(row)


def user_is_active(*, user_id: object) -> bool:
    return _row(user_id) is not None


def forget(*, schema_name: str, user_id: int) -> None:
    """Drop the cached row of this user in every process (now and after commit)."""
    _rows.invalidate(f"{schema_name}:{user_id}")
