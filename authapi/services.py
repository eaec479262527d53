"""Writes on users and tokens. Every function runs in the schema the connection is set to."""

from __future__ import annotations

from django.db import transaction

from authapi.models import User
from authapi.roles import apply_role

__all__ = ["user_create"]


def user_create(
    *,
    username: str,
    email: str,
    password: str,
    role: str = "customer",
    first_name: str = "",
    last_name: str = "",
) -> User:
    """Create a user in the current schema. Callers validate; the database enforces uniqueness."""
    user = User(
        username=username,
        email=User.objects.normalize_email(email),
        first_name=first_name,
        last_name=last_name,
    )
    apply_role(user, role)
    user.set_password(password)
    with transaction.atomic():
        user.save()
    return user
