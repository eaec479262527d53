"""Logins, sessions and the token cycle (SPEC §7). Every function runs in the schema the
connection is set to (the request's tenant); every token passes authapi.tokens' tenant check.

A login (or register) starts a session; both tokens of every pair issued from it carry its id as
`sid` and expire no later than it does. Rotation keeps the session. A session ends on logout,
logout-all, reuse of a rotated refresh token, revocation in the admin and a password change;
from then on every token of it is refused in every process (authapi.selectors.session_get_live
is cached per process and dropped everywhere when a session ends).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.functions import Now
from django.utils import timezone
from ninja_jwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from audit.services import Event, audit_login, record, record_many
from authapi import protection, selectors, tokens
from authapi.models import Session, User
from authapi.roles import admin_accounts, is_tenant_admin
from authapi.tokens import invalid_token, token_for_client, user_for_token
from core.errors import InvalidInput, NotAuthenticated, NotFound, Throttled
from core.observability import metrics
from core.tenancy import current_schema_name
from signing.jws import issuer_for
from tenants.models import Client

__all__ = [
    "NO_CLIENT_INFO",
    "ClientInfo",
    "IssuedTokens",
    "credentials_check",
    "password_change",
    "session_end",
    "session_start",
    "sessions_end",
    "sessions_end_all",
    "sessions_revoke",
    "token_blacklist",
    "token_pair_obtain",
    "token_refresh_rotate",
    "token_verify",
    "tokens_revoke",
]

log = logging.getLogger(__name__)

_USER_AGENT_MAX = 256


@dataclass(frozen=True)
class ClientInfo:
    """Where a login comes from, as recorded on its session, and the URL it came to (the
    tokens' issuer under DEBUG; signing.jws.issuer_for)."""

    user_agent: str = ""
    ip: str | None = None
    base_url: str | None = None


NO_CLIENT_INFO = ClientInfo()


@dataclass(frozen=True)
class IssuedTokens:
    user: User
    client: Client
    access: str
    refresh: str
    session_id: str
    access_expires_at: datetime


def session_start(*, user: User, client: Client, info: ClientInfo) -> IssuedTokens:
    """A new session for `user` and its first token pair (in the caller's transaction, if any)."""
    now = timezone.now()
    with transaction.atomic():
        session = Session.objects.create(
            user=user,
            created_at=now,
            last_used_at=now,
            expires_at=now + settings.SESSION_MAX_LIFETIME,
            user_agent=info.user_agent.replace("\x00", "")[:_USER_AGENT_MAX],
            ip=info.ip,
        )
        return _issue(user, client, session, info)


def credentials_check(*, login: str, password: str, info: ClientInfo = NO_CLIENT_INFO) -> User:
    """The active user that `login` (username or email) and `password` name. Unknown user,
    wrong password and inactive user are the same 401, and the password hasher runs in every
    case so timing tells them apart no better.

    Login protection (authapi.protection) comes first: a blocked account or address is a 429
    before any hashing, and the hashing itself holds one of the client's slots."""
    schema = current_schema_name()
    try:
        protection.login_check(schema=schema, login=login, ip=info.ip)
        # The slot first: a login refused for want of one costs no query.
        with protection.hashing_slot(schema=schema):
            user = selectors.user_get_by_login(login=login)
            # A found account counts under its username, whichever of its names was typed.
            account = user.username if user is not None else login
            if user is not None and account != login:
                protection.login_check(schema=schema, login=account, ip=info.ip)
            if user is None:
                User().set_password(password)  # same hashing work as a real check
                ok = False
            else:
                ok = user.check_password(password) and user.is_active
    except Throttled:
        metrics.login_counted("throttled")
        raise
    if not ok or user is None:
        protection.login_failed(schema=schema, login=account, ip=info.ip)
        record(
            Event.LOGIN_FAILED,
            user_id=user.pk if user is not None else None,
            username=audit_login(login),
        )
        metrics.login_counted("failure")
        raise _no_active_account()
    protection.login_succeeded(schema=schema, login=account, ip=info.ip)
    metrics.login_counted("success")
    return user


def token_pair_obtain(
    *, client: Client, login: str, password: str, info: ClientInfo = NO_CLIENT_INFO
) -> IssuedTokens:
    """Log in by username or email (credentials_check): a new session."""
    user = credentials_check(login=login, password=password, info=info)
    user.last_login = timezone.now()
    with transaction.atomic():  # one commit (one WAL flush) for every write of a login
        user.save(update_fields=["last_login"])
        issued = session_start(user=user, client=client, info=info)
        record(
            Event.LOGIN_SUCCEEDED,
            user_id=user.pk,
            username=user.username,
            session_id=issued.session_id,
        )
        return issued


def token_refresh_rotate(
    *, client: Client, raw: object, info: ClientInfo = NO_CLIENT_INFO
) -> IssuedTokens:
    """Rotate a refresh token: the old one is blacklisted and a new pair issued in the same
    session, expiring no later than it.

    Blacklisting is a single INSERT … ON CONFLICT DO NOTHING on the one-to-one blacklist row, so
    of any number of concurrent refreshes of one token exactly one rotates it. A token that was
    rotated before and comes back is reuse: 401, and its whole session ends — unless it was
    rotated less than REFRESH_REUSE_GRACE_SECONDS ago (a client retrying), which gets a fresh
    pair of the same session. A token never recorded as outstanding (or purged) is refused.
    """
    token = token_for_client(raw, tokens.ClientRefreshToken, client)
    user = user_for_token(token)  # and its session still live
    sid = tokens.session_id_of(token)
    with transaction.atomic():
        if _blacklist_once(token["jti"]):
            issued = _issue(user, client, _rotation_session(user, sid), info)
            metrics.refresh_counted("rotated")
            return issued
        blacklisted = BlacklistedToken.objects.filter(token__jti=token["jti"])
        grace = settings.REFRESH_REUSE_GRACE_SECONDS
        # Compared in the database, whose clock set blacklisted_at; with no grace (the default)
        # nothing is compared at all, so no clock skew can pass reuse off as a retry.
        if grace > 0 and sid is not None:
            recent = blacklisted.filter(
                blacklisted_at__gt=Now() - timedelta(seconds=grace)
            ).exists()
            if recent:
                issued = _issue(user, client, _rotation_session(user, sid), info)
                metrics.refresh_counted("grace")
                return issued
        rotated = blacklisted.exists()
    metrics.refresh_counted("refused")
    if rotated and sid is not None:
        _reuse_detected(user, sid)
    raise invalid_token()


def token_verify(*, client: Client, raw: object) -> None:
    """Valid for this tenant, of an active user in a live session, and (for a refresh token)
    recorded as outstanding and not blacklisted: a refresh token whose record is gone (deleted or
    purged, and its blacklist row with it) is unknown, not valid.

    User and session are answered from per-process caches (no SQL once warm), so verifying an
    access token costs no query at all."""
    token = _token_any_type(raw, client)
    user_for_token(token)
    if token.payload.get("token_type") == tokens.ClientRefreshToken.token_type and not (
        OutstandingToken.objects.filter(jti=token["jti"], blacklistedtoken__isnull=True).exists()
    ):
        raise invalid_token()


def token_blacklist(*, client: Client, raw: object) -> None:
    """Log out: blacklist the refresh token and end its session. A second logout is a 401."""
    token = token_for_client(raw, tokens.ClientRefreshToken, client)
    user = user_for_token(token)  # its session is still live
    sid = tokens.session_id_of(token)
    with transaction.atomic():
        done = _blacklist_once(token["jti"])
        if done and sid is not None:
            sessions_end(sessions=Session.objects.filter(pk=sid), reason=Session.EndReason.LOGOUT)
    if not done:
        # Rotated already, yet its session lives: someone else rotated it first. Reuse.
        if sid is not None:
            _reuse_detected(user, sid)
        raise invalid_token()


def _reuse_detected(user: User, sid: str) -> None:
    with transaction.atomic():
        ended = sessions_end(
            sessions=Session.objects.filter(pk=sid), reason=Session.EndReason.REUSE
        )
        record(
            Event.REFRESH_REUSE_DETECTED,
            user_id=user.pk,
            username=user.username,
            session_id=sid,
            detail={"sessions_ended": ended},
        )
    metrics.reuse_counted()
    log.warning("event=refresh_reuse_detected user_id=%s sessions_ended=%d", user.pk, ended)


def sessions_end(*, sessions: QuerySet[Session], reason: str) -> int:
    """End the live sessions among `sessions` (a `session_ended` event each, with the reason);
    every token of them is refused from the commit on, in every process. Returns how many
    ended."""
    with transaction.atomic():
        rows = list(
            Session.objects.filter(pk__in=sessions.filter(ended_at__isnull=True).values("pk"))
            .select_for_update(of=("self",))  # not the user row: a password change holds it
            .order_by("pk")  # one locking order, so two overlapping ends never deadlock
            .filter(ended_at__isnull=True)
            .values_list("pk", "user_id", "user__username")
        )
        if not rows:
            return 0
        ended = Session.objects.filter(pk__in=[r[0] for r in rows]).update(
            ended_at=timezone.now(), end_reason=reason
        )
        record_many(
            Event.SESSION_ENDED,
            [
                {"user_id": uid, "username": name, "session_id": sid, "detail": {"reason": reason}}
                for sid, uid, name in rows
            ],
        )
    for sid, _, _ in rows:  # update() sends no signal: drop each cached answer ourselves
        selectors.session_get_live.invalidate(sid=str(sid))
    return ended


def sessions_revoke(*, actor: User, sessions: QuerySet[Session]) -> tuple[int, int]:
    """End `sessions` for `actor` (the tenant admin's action). Only an admin may end an admin
    account's sessions. Returns (ended, refused as an admin's)."""
    refused = 0
    if not is_tenant_admin(actor):
        protected = admin_accounts(via="user__")
        refused = sessions.filter(protected, ended_at__isnull=True).count()
        sessions = sessions.exclude(protected)
    return sessions_end(sessions=sessions, reason=Session.EndReason.REVOKED), refused


def session_end(*, user: User, session_id: str) -> None:
    """End one live session of `user`; any other id (ended, expired, someone else's): 404."""
    if not selectors.valid_session_id(session_id) or not sessions_end(
        sessions=selectors.session_list_active(user=user).filter(pk=session_id),
        reason=Session.EndReason.ENDED,
    ):
        raise NotFound("No such session")


def sessions_end_all(*, user: User) -> int:
    """Log out everywhere: every live session of `user`, the caller's included, and every
    refresh token of the user (those issued before sessions existed carry none)."""
    with transaction.atomic():
        _blacklist_where("user_id = %s", [user.pk])
        return sessions_end(
            sessions=Session.objects.filter(user=user), reason=Session.EndReason.LOGOUT_ALL
        )


def password_change(
    *, user: User, session_id: str | None, old: str, new: str, info: ClientInfo = NO_CLIENT_INFO
) -> None:
    """Change the password; every session of the user but the caller's ends, and every API key
    of the user (a key made from a stolen session must not outlive the new password).

    The old password is checked like a login (authapi.protection): blocked after too many
    wrong guesses from one address, and within the client's bound on concurrent hashing."""
    schema = current_schema_name()
    protection.login_check(schema=schema, login=user.username, ip=info.ip)
    with protection.hashing_slot(schema=schema), transaction.atomic():
        # The row itself, locked: not the cached snapshot the request was authenticated with,
        # so two changes at once take turns and each checks the password the other set. No key
        # lock: a refresh inserting a token of this user must not deadlock with it.
        user = User.objects.select_for_update(no_key=True).get(pk=user.pk)
        if not user.check_password(old):
            protection.login_failed(schema=schema, login=user.username, ip=info.ip)
            raise InvalidInput.field("old_password", "The current password is not correct")
        try:
            validate_password(new, user=user)
        except ValidationError as exc:
            raise InvalidInput(
                [{"field": "new_password", "message": m} for m in exc.messages]
            ) from None
        user.set_password(new)
        # Read by authapi.signals, which ends the other sessions once the password is saved.
        user._keep_session_id = session_id  # type: ignore[attr-defined]
        user.save(update_fields=["password"])


def sessions_end_for_password(*, user: User, keep: str | None) -> int:
    """A password was set (by its user, an admin or `changepassword`): end the user's sessions,
    but `keep`, the session it was changed from."""
    others = Session.objects.filter(user=user)
    keep_jtis: list[str] = []
    if keep is not None:
        others = others.exclude(pk=keep)
        keep_jtis = list(Session.objects.filter(pk=keep).values_list("refresh_jti", flat=True))
    # Every other refresh token too: those issued before sessions existed carry no session.
    _blacklist_where("user_id = %s AND NOT (jti = ANY(%s))", [user.pk, keep_jtis])
    return sessions_end(sessions=others, reason=Session.EndReason.PASSWORD_CHANGED)


def tokens_revoke(*, actor: User, token_ids: list[int]) -> tuple[int, int]:
    """Blacklist the given outstanding tokens of the current schema for `actor`, and end the
    sessions they are the newest refresh token of.

    Only an admin may revoke the tokens of an admin account: staff revoking them could end an
    admin's sessions at will. Returns (newly revoked, refused as an admin's)."""
    if not token_ids:
        return 0, 0
    refused: set[int] = set()
    if not is_tenant_admin(actor):
        refused = set(
            OutstandingToken.objects.filter(id__in=token_ids)
            .filter(admin_accounts(via="user__"))
            .values_list("id", flat=True)
        )
    allowed = [pk for pk in token_ids if pk not in refused]
    if not allowed:
        return 0, len(refused)
    with transaction.atomic():
        revoked = len(_blacklist_where("id = ANY(%s)", [allowed]))
        jtis = OutstandingToken.objects.filter(id__in=allowed).values_list("jti", flat=True)
        sessions_end(
            sessions=Session.objects.filter(refresh_jti__in=list(jtis)),
            reason=Session.EndReason.REVOKED,
        )
    return revoked, len(refused)


def _issue(user: User, client: Client, session: Session, info: ClientInfo) -> IssuedTokens:
    pair = tokens.issue_pair(user, client, session, issuer=issuer_for(client, info.base_url))
    # The snapshot cached for liveness does not hold these two, so no invalidation is needed.
    Session.objects.filter(pk=session.pk).update(
        refresh_jti=pair.refresh_jti, last_used_at=timezone.now()
    )
    return IssuedTokens(
        user=user,
        client=client,
        access=pair.access,
        refresh=pair.refresh,
        session_id=str(session.pk),
        access_expires_at=pair.access_expires_at,
    )


def _rotation_session(user: User, sid: str | None) -> Session:
    """The session a rotation continues: the token's, or — for a refresh token issued before
    sessions existed — a new one, so the pair it gets carries a session from then on."""
    if sid is not None:
        session = selectors.session_get_live(sid=sid)
        if session is not None:
            return session
        raise invalid_token()  # ended since user_for_token looked
    now = timezone.now()
    return Session.objects.create(
        user=user, created_at=now, last_used_at=now, expires_at=now + settings.SESSION_MAX_LIFETIME
    )


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
