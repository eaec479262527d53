"""Reads on users. Every function reads the schema the connection is set to (the tenant's)."""

from __future__ import annotations

from http import HTTPStatus

from django.db.models import Q, QuerySet

from authapi.models import Role, User
from core.errors import ApiError

__all__ = ["account_list", "user_get_active", "user_get_by_login"]


def user_get_by_login(*, login: str) -> User | None:
    """The user whose username or email matches `login`, case-insensitively; username wins."""
    if not login or len(login) > 254:
        return None
    matches = list(User.objects.filter(Q(username__iexact=login) | Q(email__iexact=login))[:2])
    for user in matches:
        if user.username.lower() == login.lower():
            return user
    return matches[0] if matches else None


def user_get_active(*, user_id: object) -> User | None:
    if not isinstance(user_id, int) or isinstance(user_id, bool) or not 0 < user_id < 2**63:
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


def account_list(*, actor: User) -> QuerySet[User]:
    """Accounts visible to `actor`: all of the tenant's for staff and admin."""
    if actor.role not in (Role.STAFF, Role.ADMIN):
        raise ApiError(
            HTTPStatus.FORBIDDEN, "permission_denied", "Only staff and admin may list accounts"
        )
    return User.objects.order_by("-date_joined", "-id")
