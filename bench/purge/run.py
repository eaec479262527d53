"""Benchmark: purge of expired tokens over many schemas, against the alternatives.

    .venv/bin/python bench/purge/run.py                          # 1,000,000 rows, 100 schemas
    .venv/bin/python bench/purge/run.py --rows 100000 --schemas 20   # quick check

Seeds `--rows` expired outstanding tokens (every third one blacklisted) spread evenly over
`--schemas` tenant schemas, plus `--live` live tokens per schema (every third one blacklisted
too), then times and takes the peak memory of three ways of purging every schema:

  ours   authapi.purge.tokens_purge_expired per schema (what the Celery task and
         `manage.py purge_expired_tokens` run), default batch size
  flush  django-ninja-jwt's `flushexpiredtokens` command run inside each schema
  sql    a bare SQL DELETE of the blacklist rows and then of the tokens, per schema

Each variant runs in its own Python process (peak memory is that process's ru_maxrss; the
"+MB" figure is the growth over the same process just before the purge started) and starts from
freshly reseeded tables. After each variant the script checks that every expired row is gone and
every live row and live blacklist row is still there. Then the data is reseeded at a tenth of the
row count and the three variants run again, to show how memory follows the row count.

PostgreSQL: DATABASE_URL if given (the script creates and drops its own database
`tenantauth_bench_purge` on that server, so the role needs CREATEDB), else the embedded
PostgreSQL of core.embedded in a throwaway folder.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

BENCH_DB = "tenantauth_bench_purge"
TEMPLATE = "bench_t000"
VARIANTS = ("ours", "flush", "sql")
OT = "token_blacklist_outstandingtoken"
BL = "token_blacklist_blacklistedtoken"


# --- child: run one variant ------------------------------------------------------------------


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS; Linux >= 4.0 only."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_rss_mb() -> float:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def _rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def child(variant: str) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from authapi import purge

    schemas = purge.schemas_to_purge()
    connection.ensure_connection()
    _reset_peak_rss()
    baseline = _rss_mb()
    started = time.perf_counter()
    if variant == "ours":
        for schema in schemas:
            purge.tokens_purge_expired(schema_name=schema)
    elif variant == "flush":
        for schema in schemas:
            with schema_context(schema):
                call_command("flushexpiredtokens")
    elif variant == "sql":
        for schema in schemas:
            now = timezone.now()
            with schema_context(schema), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {BL} WHERE token_id IN "
                    f"(SELECT id FROM {OT} WHERE expires_at < %s)",
                    [now],
                )
                cursor.execute(f"DELETE FROM {OT} WHERE expires_at < %s", [now])
    else:
        raise SystemExit(f"unknown variant {variant!r}")
    seconds = time.perf_counter() - started
    peak = _peak_rss_mb()
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "growth_mb": peak - baseline}))


# --- parent: database, schemas, seeding ------------------------------------------------------


def _prepare_database(tmp: Path) -> str:
    """The URL of a fresh, empty bench database."""
    import psycopg

    from core import embedded

    server_url = os.environ.get("DATABASE_URL") or embedded.ensure_postgres(tmp)
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = embedded.ensure_redis(tmp)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    return urlsplit(server_url)._replace(path="/" + BENCH_DB).geturl()


def _drop_database(bench_url: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    server_url = urlsplit(bench_url)._replace(path="/postgres").geturl()
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")


def _create_schemas(count: int) -> list[str]:
    """Public plus `count` tenant schemas. The first is onboarded through the product's own
    service (migrations, admin user); the rest copy its tables, indexes and foreign keys, which
    takes milliseconds per schema instead of a full migrate."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from tenants.models import Client, Domain
    from tenants.services import client_onboard

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
    return ["public", *names]


def _seed(schemas: list[str], rows: int, live: int) -> None:
    """`rows` expired tokens spread over the tenant schemas (none in public), `live` live ones in
    every schema; ids divisible by 3 are blacklisted."""
    from django.db import connection

    tenants = [s for s in schemas if s != "public"]
    per_schema, extra = divmod(rows, len(tenants))
    with connection.cursor() as cursor:
        for index, schema in enumerate(schemas):
            expired = 0 if schema == "public" else per_schema + (1 if index <= extra else 0)
            cursor.execute(f"TRUNCATE {schema}.{BL}, {schema}.{OT} RESTART IDENTITY")
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


def _census(schemas: list[str]) -> dict[str, int]:
    from django.db import connection

    totals = {"expired": 0, "live": 0, "blacklisted": 0, "blacklisted_live": 0}
    with connection.cursor() as cursor:
        for schema in schemas:
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


def _run_variant(variant: str, env: dict[str, str]) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", variant],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"variant {variant} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _scenario(schemas: list[str], rows: int, live: int, env: dict[str, str]) -> dict[str, dict]:
    figures: dict[str, dict] = {}
    for variant in VARIANTS:
        t0 = time.perf_counter()
        _seed(schemas, rows, live)
        before = _census(schemas)
        print(
            f"  seeded {before['expired']:,} expired ({before['blacklisted']:,} blacklisted rows "
            f"in all) and {before['live']:,} live in {len(schemas)} schemas "
            f"in {time.perf_counter() - t0:.1f}s",
            flush=True,
        )
        figures[variant] = _run_variant(variant, env)
        after = _census(schemas)
        assert after["expired"] == 0, (variant, after)
        assert after["live"] == before["live"], (variant, after)
        assert after["blacklisted"] == after["blacklisted_live"] == before["blacklisted_live"], (
            variant,
            after,
        )
        f = figures[variant]
        print(
            f"  {variant:5} {f['seconds']:8.2f}s  peak {f['peak_mb']:6.1f} MB  "
            f"(+{f['growth_mb']:.1f} MB during the purge)",
            flush=True,
        )
    return figures


def _table(title: str, figures: dict[str, dict]) -> str:
    ours = figures["ours"]["seconds"]
    lines = [
        f"{title}",
        "",
        "| variant | time | vs ours | peak RSS | growth during purge |",
        "|---|---:|---:|---:|---:|",
    ]
    for variant in VARIANTS:
        f = figures[variant]
        lines.append(
            f"| {variant} | {f['seconds']:.2f} s | {f['seconds'] / ours:.2f}x | "
            f"{f['peak_mb']:.0f} MB | +{f['growth_mb']:.1f} MB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="expired tokens in all")
    parser.add_argument("--schemas", type=int, default=100, help="tenant schemas")
    parser.add_argument("--live", type=int, default=100, help="live tokens per schema")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if args.child:
        child(args.child)
        return

    tmp = Path(tempfile.mkdtemp(prefix="tenantauth-bench-"))
    atexit.register(shutil.rmtree, tmp, True)  # runs last, after the embedded servers stop
    os.environ.setdefault("TENANTAUTH_DATA_DIR", str(tmp))
    os.environ["DATABASE_URL"] = bench_url = _prepare_database(tmp)
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    env = dict(os.environ)

    import django

    django.setup()
    try:
        t0 = time.perf_counter()
        schemas = _create_schemas(args.schemas)
        print(f"created {len(schemas)} schemas in {time.perf_counter() - t0:.1f}s", flush=True)

        small = max(args.rows // 10, args.schemas)
        print(f"\n{args.rows:,} expired rows over {args.schemas} schemas", flush=True)
        full = _scenario(schemas, args.rows, args.live, env)
        print(f"\n{small:,} expired rows over {args.schemas} schemas", flush=True)
        tenth = _scenario(schemas, small, args.live, env)
    finally:
        _drop_database(bench_url)

    print()
    print(_table(f"{args.rows:,} expired rows, {args.schemas} schemas:", full))
    print()
    print(_table(f"{small:,} expired rows, {args.schemas} schemas:", tenth))
    print()
    ours, flush, sql = (full[v]["seconds"] for v in VARIANTS)
    print(f"flushexpiredtokens / ours: {flush / ours:.1f}x   (target >= 10x)")
    print(f"ours / bare SQL:           {ours / sql:.2f}x  (target <= 1.5x)")
    print(
        f"ours, memory growth: {tenth['ours']['growth_mb']:.1f} MB at {small:,} rows, "
        f"{full['ours']['growth_mb']:.1f} MB at {args.rows:,} rows "
        f"(flushexpiredtokens: {tenth['flush']['growth_mb']:.1f} MB, "
        f"{full['flush']['growth_mb']:.1f} MB)"
    )


if __name__ == "__main__":
    main()
