"""Reads on users. Every function reads the schema the connection is set to (the tenant's)."""

from __future__ import annotations

import logging
import unicodedata
import uuid

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from authapi.models import ApiToken, Role, Session, User
from core.errors import FieldError, PermissionDenied
from core.hotpath.cached import cached
from core.tenancy import current_schema_name, dangerously_in_schema

__all__ = [
    "account_list",
    "api_token_get_by_digest",
    "api_token_list",
    "dangerously_user_count",
    "login_conflicts",
    "login_normalize",
    "session_get_live",
    "session_list_active",
    "user_get_active",
    "user_get_by_login",
    "valid_session_id",
    "valid_user_id",
]

log = logging.getLogger(__name__)


def login_normalize(value: str) -> str:
    """A username, email or login string as stored and compared: NFKC, as Django's own
    username handling (so "admin" typed in full-width letters is "admin")."""
    return unicodedata.normalize("NFKC", value)


def user_get_by_login(*, login: str) -> User | None:
    """The one user whose username or email matches `login` (NFKC, case-insensitively).

    Registration keeps every login string naming at most one account (`login_conflicts`); rows
    from before that rule that still make a string ambiguous resolve to nobody, so neither
    account can be entered with a string that also names the other."""
    if not login or len(login) > 254:
        return None
    login = login_normalize(login)
    matches = list(User.objects.filter(Q(username__iexact=login) | Q(email__iexact=login))[:2])
    if len(matches) > 1:
        log.warning("event=login_ambiguous user_ids=%s", ",".join(str(u.pk) for u in matches))
        return None
    return matches[0] if matches else None


def login_conflicts(
    *, username: str, email: str, exclude_pk: int | None = None
) -> list[FieldError]:
    """Why `username` / `email` (normalised; empty means unchecked) may not belong to a new or
    changed account: each must differ, case-insensitively, from every other account's username
    *and* email, or one login string would name two accounts."""
    others = User.objects.exclude(pk=exclude_pk) if exclude_pk is not None else User.objects.all()
    errors: list[FieldError] = []
    if (
        username
        and others.filter(Q(username__iexact=username) | Q(email__iexact=username)).exists()
    ):
        errors.append({"field": "username", "message": "A user with that username already exists"})
    if email and others.filter(Q(email__iexact=email) | Q(username__iexact=email)).exists():
        errors.append({"field": "email", "message": "A user with that email already exists"})
    return errors


def valid_user_id(user_id: object) -> bool:
    """A token's user_id claim that could be a primary key (claims are attacker-shaped)."""
    return isinstance(user_id, int) and not isinstance(user_id, bool) and 0 < user_id < 2**63


@cached(
    "users",
    model=User,
    key=lambda *, user_id: f"{current_schema_name()}:{user_id}",
    max_entries=settings.USER_CACHE_SIZE,
)
def user_get_active(*, user_id: int) -> User | None:
    """The existing, active user `user_id` of the current schema, or None. One query, and none
    once this process has answered for the user (core.hotpath): a fresh User each call."""
    return User.objects.filter(pk=user_id, is_active=True).first()


def valid_session_id(sid: object) -> bool:
    """A token's sid claim that could be a session's primary key (claims are attacker-shaped)."""
    if not isinstance(sid, str) or len(sid) != 36:
        return False
    try:
        uuid.UUID(sid)
    except ValueError:
        return False
    return True


@cached(
    "sessions",
    model=Session,
    key=lambda *, sid: f"{current_schema_name()}:{sid}",
    max_entries=settings.USER_CACHE_SIZE,
    # Short: should an invalidation be lost (Redis unreachable from the process that ended the
    # session), another process stops accepting its tokens within this many seconds.
    max_age=10.0,
)
def session_get_live(*, sid: str) -> Session | None:
    """The session `sid` of the current schema if it has not been ended, or None (callers check
    its expiry, which passes while it is cached). None once warm costs no SQL (core.hotpath)."""
    return Session.objects.filter(pk=sid, ended_at__isnull=True).first()


def session_list_active(*, user: User) -> QuerySet[Session]:
    """The user's sessions that are neither ended nor expired, newest first."""
    return Session.objects.filter(
        user=user, ended_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-created_at", "-id")


@cached(
    "api_tokens",
    model=ApiToken,
    key=lambda *, digest: f"{current_schema_name()}:{digest}",
    max_entries=settings.USER_CACHE_SIZE,
)
def api_token_get_by_digest(*, digest: str) -> ApiToken | None:
    """The API key of the current schema whose digest is `digest` (expired or not: callers
    check), or None. None once warm costs no SQL (core.hotpath)."""
    return ApiToken.objects.filter(digest=digest).first()


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    """The user's API keys that have not expired, newest first."""
    return ApiToken.objects.filter(user=user).exclude(expires_at__lte=timezone.now())


def dangerously_user_count(*, schema_name: str) -> int:
    """How many users the schema `schema_name` holds: reads another schema than the current
    one (the platform admin's client list)."""
    with dangerously_in_schema(schema_name):
        return User.objects.count()


def account_list(*, actor: User) -> QuerySet[User]:
    """Accounts visible to `actor`: all of the tenant's for staff and admin."""
    if actor.role not in (Role.STAFF, Role.ADMIN):
        raise PermissionDenied("Only staff and admin may list accounts")
    return User.objects.order_by("-date_joined", "-id")
