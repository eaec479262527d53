"""Is this user of this schema still active? Answered without SQL once warm.

`verify` is called on every page load by many frontends; it must refuse a deactivated or
deleted user at once (SPEC §3) but should not cost a query per call. The answer is cached per
process and dropped in every process the moment the user is saved with a new active flag or
deleted (authapi.signals, through core.localcache). Only `QuerySet.update()` and raw SQL bypass
the signals; entries also expire after `MAX_AGE` seconds to bound that case.
"""

from __future__ import annotations

from django.db import connection

from authapi import selectors
from core.localcache import LocalCache

__all__ = ["MAX_AGE", "forget", "user_is_active"]

MAX_AGE = 30.0
_active: LocalCache[bool] = LocalCache("users", max_entries=50_000, max_age=MAX_AGE)


def _key(schema_name: str, user_id: int) -> str:
    return f"{schema_name}:{user_id}"


def user_is_active(*, user_id: object) -> bool:
    """True if `user_id` is an existing active user of the current schema."""
    if not selectors.valid_user_id(user_id):
        return False
    return _active.get(
        _key(connection.schema_name, user_id),  # type: ignore[arg-type]
        lambda: selectors.user_get_active(user_id=user_id) is not None,
    )


def forget(*, schema_name: str, user_id: int) -> None:
    """Drop the cached answer for this user in every process (now and after commit)."""
    _active.invalidate(_key(schema_name, user_id))
