"""Schemas and data of the purge benchmark (bench/purge/run.py): tenant schemas copied from one
onboarded schema, a user in each, then expired and live tokens, blacklist rows, sessions and API
keys seeded with generate_series, and a census of what a purge must delete and keep."""

from __future__ import annotations

import secrets
from datetime import timedelta

TEMPLATE = "bench_t000"
OT = "token_blacklist_outstandingtoken"
BL = "token_blacklist_blacklistedtoken"
SE = "authapi_session"
AK = "authapi_apitoken"
US = "authapi_user"


def refresh_lifetime() -> timedelta:
    from django.conf import settings

    return settings.NINJA_JWT["REFRESH_TOKEN_LIFETIME"]


def create_schemas(count: int) -> list[str]:
    """Public plus `count` tenant schemas. The first is onboarded through the product's own
    service (migrations, admin user); the rest copy its tables, indexes and foreign keys, which
    takes milliseconds per schema instead of a full migrate."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from onboarding.services import client_onboard
    from tenants.models import Client, Domain

    call_command("migrate_schemas", "--shared", "--executor", "standard", verbosity=0)
    public = Client.objects.create(schema_name="public", name="Platform")
    Domain.objects.create(domain="localhost", tenant=public, is_primary=True)
    client_onboard(
        name="Bench 0",
        schema_name=TEMPLATE,
        domain="bench0.localhost",
        admin_username="admin",
        admin_email="admin@bench.test",
        admin_password=secrets.token_urlsafe(16),
    )
    names = [f"bench_t{i:03d}" for i in range(count)]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", [TEMPLATE]
        )
        tables = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SET LOCAL search_path TO {TEMPLATE}")  # unqualified definitions below
        cursor.execute(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
            "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE n.nspname = %s AND c.contype = 'f'",
            [TEMPLATE],
        )
        foreign_keys = cursor.fetchall()
        for name in names[1:]:
            cursor.execute(f"CREATE SCHEMA {name}")
            for table in tables:
                cursor.execute(
                    f"CREATE TABLE {name}.{table} (LIKE {TEMPLATE}.{table} INCLUDING ALL)"
                )
            cursor.execute(f"SET LOCAL search_path TO {name}")
            for table, constraint, definition in foreign_keys:
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{constraint}" {definition}')
            cursor.execute(f"SET LOCAL search_path TO {TEMPLATE}")
    connection.set_schema_to_public()
    Client.objects.bulk_create(Client(schema_name=n, name=n) for n in names[1:])
    schemas = ["public", *names]
    _copy_users(schemas)
    return schemas


def _copy_users(schemas: list[str]) -> None:
    """The template's admin in every schema: the user of the seeded sessions and keys."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            [TEMPLATE, US],
        )
        columns = ", ".join(f'"{row[0]}"' for row in cursor.fetchall())
        for schema in schemas:
            if schema != TEMPLATE:
                cursor.execute(
                    f"INSERT INTO {schema}.{US} ({columns}) SELECT {columns} FROM {TEMPLATE}.{US}"
                )


def _spread(total: int, schemas: list[str]) -> dict[str, int]:
    """`total` spread evenly over the tenant schemas (none in public)."""
    tenants = [s for s in schemas if s != "public"]
    per_schema, extra = divmod(total, len(tenants))
    return {s: 0 if s == "public" else per_schema + (1 if i <= extra else 0)
            for i, s in enumerate(schemas)}  # fmt: skip


# Sessions, by generate_series index g, each group ending at the index named: past their
# absolute lifetime (past), ended longer ago than a refresh token lives while still within their
# lifetime (ended), open (open), ended an hour ago, whose tokens may still be refreshed (the
# rest: kept, like the open ones).
_SEED_SESSIONS_SQL = """
INSERT INTO {schema}.{table} (id, user_id, created_at, last_used_at, expires_at, ended_at,
                              end_reason, user_agent, ip, refresh_jti)
SELECT gen_random_uuid(), (SELECT min(id) FROM {schema}.{users}),
       now() - interval '40 days', now() - interval '2 days',
       CASE WHEN g <= %(past)s THEN now() - interval '1 hour' - g * interval '1 second'
            ELSE now() + interval '20 days' END,
       CASE WHEN g <= %(past)s THEN NULL
            WHEN g <= %(ended)s THEN now() - %(refresh)s * interval '1 second'
                                     - interval '1 hour' - g * interval '1 second'
            WHEN g <= %(open)s THEN NULL
            ELSE now() - interval '1 hour' END,
       CASE WHEN g <= %(past)s OR (g > %(ended)s AND g <= %(open)s) THEN '' ELSE 'logout' END,
       'bench', NULL, ''
FROM generate_series(1, %(total)s) g
"""

# API keys: expired ones, then live ones without expiry, then live ones expiring in 30 days.
_SEED_KEYS_SQL = """
INSERT INTO {schema}.{table} (user_id, name, prefix, digest, created_at, last_used_at,
                              expires_at)
SELECT (SELECT min(id) FROM {schema}.{users}), 'bench', 'tat_' || left(md5(g::text), 8),
       'sha256:' || encode(sha256(g::text::bytea), 'hex'), now() - interval '40 days', NULL,
       CASE WHEN g <= %(expired)s THEN now() - interval '1 hour' - g * interval '1 second'
            WHEN g <= %(no_expiry)s THEN NULL
            ELSE now() + interval '30 days' END
FROM generate_series(1, %(total)s) g
"""


def seed(schemas: list[str], rows: int, live: int, sessions: int, keys: int) -> None:
    """`rows` expired tokens, `sessions` dead sessions and `keys` expired API keys spread over
    the tenant schemas (none in public), and live ones of each in every schema (module
    docstring); token ids divisible by 3 are blacklisted."""
    from django.db import connection

    expired_tokens = _spread(rows, schemas)
    dead_sessions = _spread(sessions, schemas)
    expired_keys = _spread(keys, schemas)
    refresh = refresh_lifetime().total_seconds()
    with connection.cursor() as cursor:
        for schema in schemas:
            expired = expired_tokens[schema]
            cursor.execute(
                f"TRUNCATE {schema}.{BL}, {schema}.{OT}, {schema}.{SE}, {schema}.{AK} "
                "RESTART IDENTITY"
            )
            dead = dead_sessions[schema]
            cursor.execute(
                _SEED_SESSIONS_SQL.format(schema=schema, table=SE, users=US),
                {"past": dead // 2, "ended": dead, "open": dead + live // 5,
                 "total": dead + live // 5 + live // 20, "refresh": refresh},
            )  # fmt: skip
            live_keys = live // 10
            cursor.execute(
                _SEED_KEYS_SQL.format(schema=schema, table=AK, users=US),
                {"expired": expired_keys[schema],
                 "no_expiry": expired_keys[schema] + live_keys // 2,
                 "total": expired_keys[schema] + live_keys},
            )  # fmt: skip
            cursor.execute(
                f"INSERT INTO {schema}.{OT} (jti, token, created_at, expires_at) "
                "SELECT md5(g::text), repeat(md5(g::text), 8), now() - interval '2 days', "
                "CASE WHEN g <= %s THEN now() - interval '1 hour' - g * interval '1 second' "
                "ELSE now() + interval '1 day' END "
                "FROM generate_series(1, %s) g",
                [expired, expired + live],
            )
            cursor.execute(
                f"INSERT INTO {schema}.{BL} (token_id, blacklisted_at) "
                f"SELECT id, now() FROM {schema}.{OT} WHERE id % 3 = 0"
            )
        cursor.execute("ANALYZE")
        cursor.execute("CHECKPOINT")


# Dead: what the purge must delete; live: what it must keep.
_CENSUS_SESSIONS_SQL = """
SELECT count(*) FILTER (WHERE expires_at < now() OR ended_at < now() - %(refresh)s),
       count(*) FILTER (WHERE expires_at >= now()
                        AND (ended_at IS NULL OR ended_at >= now() - %(refresh)s))
FROM {schema}.{table}
"""
_CENSUS_KEYS_SQL = """
SELECT count(*) FILTER (WHERE expires_at < now()),
       count(*) FILTER (WHERE expires_at IS NULL OR expires_at >= now())
FROM {schema}.{table}
"""


def census(schemas: list[str]) -> dict[str, int]:
    from django.db import connection

    totals = dict.fromkeys(
        ("expired", "live", "blacklisted", "blacklisted_live", "sessions_dead", "sessions_live",
         "keys_expired", "keys_live"),
        0,
    )  # fmt: skip
    refresh = refresh_lifetime()
    with connection.cursor() as cursor:
        for schema in schemas:
            cursor.execute(
                _CENSUS_SESSIONS_SQL.format(schema=schema, table=SE), {"refresh": refresh}
            )
            dead, kept = cursor.fetchone()
            totals["sessions_dead"] += dead
            totals["sessions_live"] += kept
            cursor.execute(_CENSUS_KEYS_SQL.format(schema=schema, table=AK))
            dead, kept = cursor.fetchone()
            totals["keys_expired"] += dead
            totals["keys_live"] += kept
            cursor.execute(
                f"SELECT count(*) FILTER (WHERE expires_at < now()), "
                f"count(*) FILTER (WHERE expires_at >= now()) FROM {schema}.{OT}"
            )
            expired, live = cursor.fetchone()
            cursor.execute(
                f"SELECT count(*), count(*) FILTER (WHERE o.expires_at >= now()) "
                f"FROM {schema}.{BL} b JOIN {schema}.{OT} o ON o.id = b.token_id"
            )
            blacklisted, blacklisted_live = cursor.fetchone()
            totals["expired"] += expired
            totals["live"] += live
            totals["blacklisted"] += blacklisted
            totals["blacklisted_live"] += blacklisted_live
    return totals
