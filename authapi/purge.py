"""Purge of expired outstanding tokens (and their blacklist rows), of sessions past their
lifetime or long ended, and of expired API keys, one schema at a time; with the public schema's,
the retirement of signing keys whose tokens have all expired.

Shared by the Celery tasks (authapi.tasks) and `manage.py purge_expired_tokens`.

Each batch is its own short transaction: it takes at most `batch_size` expired outstanding
tokens of the current schema (the oldest, through the expires_at index), deletes their
blacklist rows and the tokens in one statement, and returns only the two counts. Memory is flat
whatever the row count and no lock is held longer than one batch.

Two purges of the same schema at once take turns: every batch first takes a transaction-scoped
advisory lock on the schema, so the second waits for the first's batch to commit and then picks
from what is left. One lock per batch instead of a row lock per token (`FOR UPDATE SKIP
LOCKED`, which an earlier version used) spares a WAL record and a dirtied page per row; the
database's foreign keys keep blacklist rows and tokens consistent either way.

Most of the database's remaining work is the foreign-key trigger that runs for every deleted
token; the key is ON DELETE CASCADE (migration authapi.0003), whose trigger does one lookup per
row where Django's NO ACTION does two. The blacklist rows are still deleted explicitly, to
count them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from core.observability import metrics
from core.tenancy import dangerously_in_schema
from signing.services import keys_retire_expired
from tenants import selectors

__all__ = [
    "PurgeResult",
    "UnknownSchemaError",
    "schemas_to_purge",
    "tokens_count_expired",
    "tokens_purge_expired",
]

# A batch waits at most this long for a lock (another purge's batch of the same schema, or a
# row another transaction holds), then fails with OperationalError (the Celery task retries it
# later) instead of holding a worker and a connection.
LOCK_TIMEOUT = "5s"

# Per schema, in the two-int key space (apart from tenants.template's single bigint key); a hash
# collision between two schemas only makes their purges take turns.
_LOCK_SCHEMA_SQL = (
    "SELECT pg_advisory_xact_lock(hashtext('tenantauth.purge'), hashtext(current_schema()))"
)

# Unqualified table names: they resolve through the search_path set by schema_context, which
# puts the tenant schema first; both tables exist in every schema (TENANT_APPS).
#
# A batch is a key range on (expires_at, id). The first statement finds its upper edge, the
# batch_size-th oldest expired token, in the expires_at index, and the row after it if any (then
# more batches follow). The second deletes every expired token up to that edge, and their
# blacklist rows: at most batch_size tokens, ties on expires_at included. Compared with an id
# list probed one by one through the primary key (an earlier version), the range reads each
# token once, in index order, for less database time (bench/README.md, "Purge").
#
# The blacklist rows are found through their token_id index (`= ANY (ARRAY(...))`), one probe
# per token of the batch. Written as a join, PostgreSQL's planner prefers to read the whole
# blacklist table in every batch, even with 500,000 rows in it (135 ms of a 175 ms batch,
# against 8 ms this way): a backlog would then cost batches x table size.
_BATCH_EDGE_SQL = """
SELECT expires_at, id FROM token_blacklist_outstandingtoken
WHERE expires_at < %(now)s
ORDER BY expires_at, id
OFFSET %(batch_size)s - 1 LIMIT 2
"""

# Both DELETEs take the tokens in the range: expired before `now` and at or before the edge.
_PURGE_BATCH_SQL = """
WITH bl AS (
    DELETE FROM token_blacklist_blacklistedtoken
    WHERE token_id = ANY (ARRAY(
        SELECT o.id FROM token_blacklist_outstandingtoken o
        WHERE o.expires_at < %(now)s AND o.expires_at <= %(edge_expires_at)s
          AND (o.expires_at < %(edge_expires_at)s OR o.id <= %(edge_id)s)
    ))
    RETURNING 1
),
ot AS (
    DELETE FROM token_blacklist_outstandingtoken o
    WHERE o.expires_at < %(now)s AND o.expires_at <= %(edge_expires_at)s
      AND (o.expires_at < %(edge_expires_at)s OR o.id <= %(edge_id)s)
    RETURNING 1
)
SELECT (SELECT count(*) FROM ot), (SELECT count(*) FROM bl)
"""

# With fewer than batch_size expired tokens left, the range is all of them.
_NO_EDGE_ID = 2**63 - 1

_COUNT_EXPIRED_SQL = "SELECT count(*) FROM token_blacklist_outstandingtoken WHERE expires_at < %s"


# Sessions and API keys, a batch per statement, each through its own index:
# - sessions past their absolute lifetime;
# - sessions ended longer ago than a refresh token lives: every token of one has expired by
#   then, and its record has gone in this purge's first part (until then the admin lists it
#   with why it ended);
# - API keys past their expiry.
_PURGE_ROWS_SQL = {
    "sessions": """
DELETE FROM authapi_session WHERE id IN (
    SELECT id FROM authapi_session WHERE expires_at < %(now)s
    ORDER BY expires_at LIMIT %(batch_size)s
)""",
    "ended_sessions": """
DELETE FROM authapi_session WHERE id IN (
    SELECT id FROM authapi_session WHERE ended_at < %(ended_before)s
    ORDER BY ended_at LIMIT %(batch_size)s
)""",
    "api_tokens": """
DELETE FROM authapi_apitoken WHERE id IN (
    SELECT id FROM authapi_apitoken WHERE expires_at < %(now)s
    ORDER BY expires_at LIMIT %(batch_size)s
)""",
    # Audit events past AUDIT_RETENTION_DAYS, through the `at` index.
    "audit_events": """
DELETE FROM audit_auditevent WHERE id IN (
    SELECT id FROM audit_auditevent WHERE at < %(audit_before)s
    ORDER BY at LIMIT %(batch_size)s
)""",
}


@dataclass(frozen=True)
class PurgeResult:
    schema: str
    outstanding_deleted: int
    blacklisted_deleted: int
    sessions_deleted: int = 0
    api_tokens_deleted: int = 0
    signing_keys_retired: int = 0
    audit_events_deleted: int = 0

    def as_dict(self) -> dict[str, str | int]:
        return asdict(self)


class UnknownSchemaError(ValueError):
    """The schema is neither public nor an active client's."""


def schemas_to_purge() -> list[str]:
    """Public first, then every active client's schema, in id order."""
    tenants = selectors.client_list_active().values_list("schema_name", flat=True)
    return [get_public_schema_name(), *tenants]


def _check_schema(schema_name: str) -> None:
    if schema_name == get_public_schema_name():
        return
    if not selectors.client_list_active().filter(schema_name=schema_name).exists():
        raise UnknownSchemaError(
            f"unknown schema {schema_name!r}: not public and not an active client's schema"
        )


def tokens_count_expired(*, schema_name: str, now: datetime | None = None) -> int:
    """How many outstanding tokens of `schema_name` expired before `now` (index-only scan)."""
    _check_schema(schema_name)
    now = now or timezone.now()
    with dangerously_in_schema(schema_name), connection.cursor() as cursor:
        cursor.execute(_COUNT_EXPIRED_SQL, [now])
        return int(cursor.fetchone()[0])


def tokens_purge_expired(
    *,
    schema_name: str,
    batch_size: int | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PurgeResult:
    """Delete the outstanding tokens of `schema_name` that expired before `now`, and their
    blacklist rows, then the sessions past their lifetime or ended longer ago than a refresh
    token lives, and the expired API keys, in batches of `batch_size`. Never a live token, key
    or session, never another schema's row.

    `now` is fixed at the start, so tokens expiring during the purge wait for the next one.
    `progress(outstanding, blacklisted)` is called after every batch with that batch's counts.
    Raises UnknownSchemaError for a schema that is not public or an active client's.
    """
    _check_schema(schema_name)
    batch_size = batch_size or settings.PURGE_BATCH_SIZE
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    now = now or timezone.now()
    outstanding = blacklisted = 0
    with dangerously_in_schema(schema_name):
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_TIMEOUT])
                # Its own statement, before the batch's: a statement's snapshot is taken when it
                # starts, so the batch sees what a purge that held the lock before has deleted.
                cursor.execute(_LOCK_SCHEMA_SQL)
                cursor.execute(_BATCH_EDGE_SQL, {"now": now, "batch_size": batch_size})
                edge = cursor.fetchall()
                more = len(edge) == 2
                edge_expires_at, edge_id = edge[0] if edge else (now, _NO_EDGE_ID)
                cursor.execute(
                    _PURGE_BATCH_SQL,
                    {"now": now, "edge_expires_at": edge_expires_at, "edge_id": edge_id},
                )
                batch_outstanding, batch_blacklisted = cursor.fetchone()
            outstanding += batch_outstanding
            blacklisted += batch_blacklisted
            if progress is not None:
                progress(batch_outstanding, batch_blacklisted)
            if not more:  # no token expired before `now` lies beyond this batch's range
                break
        refresh_lifetime = cast(timedelta, settings.NINJA_JWT["REFRESH_TOKEN_LIFETIME"])
        params: dict[str, datetime | int] = {
            "now": now,
            "ended_before": now - refresh_lifetime,
            "audit_before": now - timedelta(days=settings.AUDIT_RETENTION_DAYS),
            "batch_size": batch_size,
        }
        rows = {kind: _purge_rows(sql, params, batch_size) for kind, sql in _PURGE_ROWS_SQL.items()}
    # Signing keys live in public, one purge a run: retire those whose tokens have all expired.
    retired = keys_retire_expired(now=now) if schema_name == get_public_schema_name() else 0
    metrics.purge_counted(
        schema=schema_name,
        rows={
            "outstanding": outstanding,
            "blacklisted": blacklisted,
            "sessions": rows["sessions"] + rows["ended_sessions"],
            "api_tokens": rows["api_tokens"],
            "audit_events": rows["audit_events"],
            "signing_keys": retired,
        },
    )
    return PurgeResult(
        schema_name,
        outstanding,
        blacklisted,
        rows["sessions"] + rows["ended_sessions"],
        rows["api_tokens"],
        retired,
        rows["audit_events"],
    )


def _purge_rows(sql: str, params: dict[str, datetime | int], batch_size: int) -> int:
    """Run one batch statement until a batch comes back short; how many rows it deleted."""
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_TIMEOUT])
            cursor.execute(sql, params)
            batch = cursor.rowcount
        deleted += batch
        if batch < batch_size:
            return deleted
