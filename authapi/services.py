"""Writes on users and tokens. Every function runs in the schema the connection is set to (the
request's tenant), and every token passes through authapi.auth's tenant check first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from ninja_jwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from authapi import selectors, tokens
from authapi.models import Role, User
from authapi.roles import apply_role
from authapi.tokens import invalid_token, token_for_client, user_for_token
from core.errors import FieldError, InvalidInput, NotAuthenticated, PermissionDenied
from core.tenancy import current_schema_name
from tenants.models import Client

__all__ = [
    "IssuedTokens",
    "token_blacklist",
    "token_pair_obtain",
    "token_refresh_rotate",
    "token_verify",
    "tokens_revoke",
    "user_create",
    "user_register",
    "user_save",
]


@dataclass(frozen=True)
class IssuedTokens:
    user: User
    client: Client
    access: str
    refresh: str


def user_create(
    *,
    username: str,
    email: str,
    password: str,
    role: str = Role.CUSTOMER,
    first_name: str = "",
    last_name: str = "",
) -> User:
    """Create a user in the current schema. Callers validate the fields (user_save checks what
    only the database can tell)."""
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    user.set_password(password)
    return user_save(user=user, role=role)


def user_save(*, user: User, role: str | None = None) -> User:
    """Save a new or changed user of the current schema: username and email NFKC-normalised,
    the admin flags that follow from the role, and a refusal (InvalidInput) of a username or
    email that would make a login string name two accounts — checked under a lock on both
    strings, so that concurrent writes of "bob@corp.test" as one account's email and another's
    username cannot both pass. The tenant admin's user forms save through here too."""
    user.username = selectors.login_normalize(user.username)
    user.email = User.objects.normalize_email(selectors.login_normalize(user.email))
    apply_role(user, role or user.role)
    with transaction.atomic():
        _lock_login_strings(user.username, user.email)
        conflicts = selectors.login_conflicts(
            username=user.username, email=user.email, exclude_pk=user.pk
        )
        if conflicts:
            raise InvalidInput(conflicts)
        user.save()
    return user


def _lock_login_strings(*values: str) -> None:
    """Serialise, until commit, every account write that claims one of these login strings in
    this schema (sorted, so two writers never wait on each other in opposite orders)."""
    keys = sorted({f"{current_schema_name()}:{v.lower()}" for v in values if v})
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


def token_pair_obtain(*, client: Client, login: str, password: str) -> IssuedTokens:
    """Log in by username or email. Unknown user, wrong password and inactive user are the same
    401, and the password hasher runs in every case so timing tells them apart no better."""
    user = selectors.user_get_by_login(login=login)
    if user is None:
        User().set_password(password)  # same hashing work as a real check
        raise _no_active_account()
    if not user.check_password(password) or not user.is_active:
        raise _no_active_account()
    user.last_login = timezone.now()
    with transaction.atomic():  # one commit (one WAL flush) for both writes
        user.save(update_fields=["last_login"])
        access, refresh = tokens.issue_pair(user, client)
    return IssuedTokens(user=user, client=client, access=access, refresh=refresh)


def token_refresh_rotate(*, client: Client, raw: object) -> tuple[str, str]:
    """Rotate a refresh token: the old one is blacklisted and a new pair issued.

    Blacklisting is a single INSERT … ON CONFLICT DO NOTHING on the one-to-one blacklist row, so
    of any number of concurrent refreshes of one token exactly one wins. A token that was never
    recorded as outstanding (or has been purged or deleted) is refused.
    """
    token = token_for_client(raw, tokens.ClientRefreshToken, client)
    user = user_for_token(token)
    with transaction.atomic():
        if not _blacklist_once(token["jti"]):
            raise invalid_token()
        return tokens.issue_pair(user, client)


def token_verify(*, client: Client, raw: object) -> None:
    """Valid for this tenant, of an active user, and (for a refresh token) recorded as
    outstanding and not blacklisted: a refresh token whose record is gone (deleted or purged,
    and its blacklist row with it) is unknown, not valid.

    The user check is answered from the per-process user-status cache (no SQL once warm), so
    verifying an access token costs no query at all."""
    token = _token_any_type(raw, client)
    user_for_token(token)
    if token.payload.get("token_type") == tokens.ClientRefreshToken.token_type and not (
        OutstandingToken.objects.filter(jti=token["jti"], blacklistedtoken__isnull=True).exists()
    ):
        raise invalid_token()


def token_blacklist(*, client: Client, raw: object) -> None:
    """Log out: blacklist the refresh token. A second logout with it is a 401."""
    token = token_for_client(raw, tokens.ClientRefreshToken, client)
    user_for_token(token)
    if not _blacklist_once(token["jti"]):
        raise invalid_token()


def user_register(
    *,
    client: Client,
    actor: User | None,
    username: str,
    email: str,
    password: str,
    role: str | None,
    first_name: str = "",
    last_name: str = "",
) -> IssuedTokens:
    """Create an account and log it in. Only a tenant admin may create staff or admin."""
    role = role or Role.CUSTOMER
    if role not in Role.values:
        raise InvalidInput.field("role", f"Unknown role; choose one of {', '.join(Role.values)}")
    if role != Role.CUSTOMER and (actor is None or actor.role != Role.ADMIN):
        raise PermissionDenied("Only a tenant admin may create staff or admin accounts")
    username = selectors.login_normalize(username)
    email = User.objects.normalize_email(selectors.login_normalize(email))
    candidate = User(username=username, email=email, first_name=first_name, last_name=last_name)
    errors = _registration_errors(candidate, password)
    if errors:
        raise InvalidInput(errors)
    try:
        user = user_create(
            username=username,
            email=email,
            password=password,
            role=role,
            first_name=first_name,
            last_name=last_name,
        )
    except IntegrityError:  # a concurrent registration took the name or email first
        raise InvalidInput.field(
            "username", "A user with that username or email already exists"
        ) from None
    access, refresh = tokens.issue_pair(user, client)
    return IssuedTokens(user=user, client=client, access=access, refresh=refresh)


def tokens_revoke(*, actor: User, token_ids: list[int]) -> tuple[int, int]:
    """Blacklist the given outstanding tokens of the current schema for `actor`.

    Only an admin may revoke the tokens of an admin account: staff revoking them could end an
    admin's sessions at will. Returns (newly revoked, refused as an admin's)."""
    if not token_ids:
        return 0, 0
    if actor.is_superuser or actor.role == Role.ADMIN:
        return len(_blacklist_where("id = ANY(%s)", [token_ids])), 0
    admins_tokens = OutstandingToken.objects.filter(
        id__in=token_ids, user__role=Role.ADMIN
    ).values_list("id", flat=True)
    refused = set(admins_tokens)
    allowed = [pk for pk in token_ids if pk not in refused]
    revoked = len(_blacklist_where("id = ANY(%s)", [allowed])) if allowed else 0
    return revoked, len(refused)


def _registration_errors(candidate: User, password: str) -> list[FieldError]:
    errors: list[FieldError] = []
    username, email = candidate.username, candidate.email
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError as exc:
        errors += [{"field": "username", "message": m} for m in exc.messages]
        username = ""
    try:
        validate_email(email)
    except ValidationError as exc:
        errors += [{"field": "email", "message": m} for m in exc.messages]
        email = ""
    errors += selectors.login_conflicts(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        errors += [{"field": "password", "message": m} for m in exc.messages]
    return errors


def _token_any_type(raw: object, client: Client) -> tokens.Token:
    for token_class in (tokens.AccessToken, tokens.ClientRefreshToken):
        try:
            return token_for_client(raw, token_class, client)
        except NotAuthenticated:
            continue
    raise invalid_token()


def _blacklist_once(jti: str) -> bool:
    """Blacklist the outstanding token `jti`; True only for the one caller that did it."""
    return bool(_blacklist_where("jti = %s", [jti]))


def _blacklist_where(condition: str, params: list[Any]) -> list[tuple[int]]:
    """Blacklist the outstanding tokens matching `condition` in one statement; the unique
    token_id makes concurrent calls race-free. Returns the rows newly blacklisted."""
    blacklist = BlacklistedToken._meta.db_table
    outstanding = OutstandingToken._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {blacklist} (token_id, blacklisted_at) "  # noqa: S608 (fixed SQL)
            f"SELECT id, now() FROM {outstanding} WHERE {condition} "
            "ON CONFLICT (token_id) DO NOTHING RETURNING token_id",
            params,
        )
        return cursor.fetchall()


def _no_active_account() -> NotAuthenticated:
    return NotAuthenticated(
        "No active account found with the given credentials", code="no_active_account"
    )
