"""Reads on users. Every function reads the schema the connection is set to (the tenant's)."""

from __future__ import annotations

import functools
from http import HTTPStatus

from django.db import connection
from django.db.models import Q, QuerySet

from authapi.models import Role, User
from core.errors import ApiError

__all__ = [
    "account_list",
    "user_from_row",
    "user_get_by_login",
    "user_row_active",
    "valid_user_id",
]


def user_get_by_login(*, login: str) -> User | None:
    """The user whose username or email matches `login`, case-insensitively; username wins."""
    if not login or len(login) > 254:
        return None
    matches = list(User.objects.filter(Q(username__iexact=login) | Q(email__iexact=login))[:2])
    for user in matches:
        if user.username.lower() == login.lower():
            return user
    return matches[0] if matches else None


def valid_user_id(user_id: object) -> bool:
    """A token's user_id claim that could be a primary key (claims are attacker-shaped)."""
    return isinstance(user_id, int) and not isinstance(user_id, bool) and 0 < user_id < 2**63


@functools.cache
def _active_user_sql() -> tuple[str, list[str]]:
    fields = User._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(User._meta.db_table)
    pk = connection.ops.quote_name(User._meta.pk.column)
    sql = f"SELECT {columns} FROM {table} WHERE {pk} = %s AND is_active"  # noqa: S608 (fixed)
    return sql, [f.attname for f in fields]


def user_row_active(*, user_id: object) -> tuple[object, ...] | None:
    """The row of the active user `user_id` of the current schema, or None.

    One plain statement instead of the ORM's query compiler (which costs several times the
    round trip itself); an immutable tuple, so it can be cached and shared (authapi.userstate).
    """
    if not valid_user_id(user_id):
        return None
    sql, _ = _active_user_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id])
        return cursor.fetchone()


def user_from_row(row: tuple[object, ...]) -> User:
    """A fresh User from a `user_row_active` row, built exactly as the ORM builds one."""
    return User.from_db(connection.alias, _active_user_sql()[1], row)


def account_list(*, actor: User) -> QuerySet[User]:
    """Accounts visible to `actor`: all of the tenant's for staff and admin."""
    if actor.role not in (Role.STAFF, Role.ADMIN):
        raise ApiError(
            HTTPStatus.FORBIDDEN, "permission_denied", "Only staff and admin may list accounts"
        )
    return User.objects.order_by("-date_joined", "-id")
