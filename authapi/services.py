"""Writes on users. Every function runs in the schema the connection is set to (the request's
tenant). Logins, tokens and sessions are authapi.sessions'."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction

from audit.services import Event, record
from authapi import protection, selectors, sessions
from authapi.models import Role, User
from authapi.roles import apply_role, is_tenant_admin
from core.errors import FieldError, InvalidInput, PermissionDenied
from core.tenancy import current_schema_name
from tenants.models import Client

__all__ = [
    "user_create",
    "user_register",
    "user_save",
]


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
    info: sessions.ClientInfo = sessions.NO_CLIENT_INFO,
) -> sessions.IssuedTokens:
    """Create an account and log it in (a new session). Only a tenant admin may create staff
    or admin accounts. Anonymous registrations are limited per IP (REGISTER_RATE), before
    anything is looked up, so the route is no fast oracle of which names exist."""
    schema = current_schema_name()
    if actor is None or not is_tenant_admin(actor):
        protection.register_check(schema=schema, ip=info.ip)
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
        with protection.hashing_slot(schema=schema), transaction.atomic():
            user = user_create(
                username=username,
                email=email,
                password=password,
                role=role,
                first_name=first_name,
                last_name=last_name,
            )
            issued = sessions.session_start(user=user, client=client, info=info)
            record(
                Event.USER_REGISTERED,
                user_id=user.pk,
                username=user.username,
                session_id=issued.session_id,
                detail={"role": user.role, "by": actor.username if actor else None},
            )
            return issued
    except IntegrityError:  # a concurrent registration took the name or email first
        raise InvalidInput.field(
            "username", "A user with that username or email already exists"
        ) from None


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
