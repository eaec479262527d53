"""Writing audit events (SPEC §10). `record` writes in the caller's transaction (so an event
exists exactly when what it records was committed) and in the schema the connection is set to:
a client's events in its schema, the platform's in public.

Nothing secret goes in: callers pass names, ids and reasons, never a password or a token, and
`detail` is checked for keys that could hold one.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.utils import timezone

from audit.context import request_origin
from audit.models import AuditEvent

__all__ = ["Event", "audit_login", "record", "record_many"]

log = logging.getLogger(__name__)

Event = AuditEvent.Event

_SECRET_KEYS = {"password", "token", "refresh", "access", "key", "secret", "digest", "prefix"}
# What a login string looks like when someone pasted a credential into the name field.
_CREDENTIAL_SHAPES = re.compile(r"(tat_\S{20,}|eyJ[\w-]+\.[\w-]+\.[\w-]*)")


def audit_login(login: str) -> str:
    """A login string as typed (SPEC §10), unless it looks like an API key or a JWT pasted into
    the name field: never a token, whole or part, in the trail. (A password typed as a name
    cannot be told from a name; it is kept as typed, as the SPEC asks for failures.)"""
    return "[credential-like input withheld]" if _CREDENTIAL_SHAPES.search(login) else login


def _event(
    event: str,
    *,
    user_id: int | None,
    username: str,
    session_id: object,
    detail: dict[str, Any] | None,
    ip: str | None,
    user_agent: str,
) -> AuditEvent:
    detail = dict(detail or {})
    leaked = _SECRET_KEYS & {k.lower() for k in detail}
    if leaked:  # a programming error, never a client's doing
        raise ValueError(f"audit detail may not hold {sorted(leaked)}")
    return AuditEvent(
        at=timezone.now(),
        event=event,
        user_id=user_id,
        username=(username or "")[:254].replace("\x00", ""),
        ip=ip,
        user_agent=user_agent,
        session_id=str(session_id) if session_id else None,
        detail=detail,
    )


def record(
    event: str,
    *,
    user_id: int | None = None,
    username: str = "",
    session_id: object = None,
    detail: dict[str, Any] | None = None,
) -> None:
    ip, user_agent = request_origin()
    _event(
        event,
        user_id=user_id,
        username=username,
        session_id=session_id,
        detail=detail,
        ip=ip,
        user_agent=user_agent,
    ).save()
    log.info("event=audit_%s user_id=%s", event, user_id)


def record_many(event: str, rows: list[dict[str, Any]]) -> None:
    """One event per row (user_id, username, session_id, detail), in one INSERT."""
    if not rows:
        return
    ip, user_agent = request_origin()
    AuditEvent.objects.bulk_create(
        [
            _event(
                event,
                user_id=row.get("user_id"),
                username=row.get("username", ""),
                session_id=row.get("session_id"),
                detail=row.get("detail"),
                ip=ip,
                user_agent=user_agent,
            )
            for row in rows
        ]
    )
