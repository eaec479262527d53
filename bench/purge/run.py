"""Benchmark: purge of expired tokens over many schemas, against the alternatives.

    .venv/bin/python bench/purge/run.py                          # 1,000,000 rows, 100 schemas
    .venv/bin/python bench/purge/run.py --rows 100000 --schemas 20   # quick check

Seeds `--rows` expired outstanding tokens (every third one blacklisted) spread evenly over
`--schemas` tenant schemas, plus `--live` live tokens per schema (every third one blacklisted
too), then times and takes the peak memory of six ways of purging every schema:

  ours    authapi.purge.tokens_purge_expired per schema in one process (what
          `manage.py purge_expired_tokens` runs), default batch size
  celery  the purge as deployed: `purge_dispatch` enqueues one `purge_schema` task per schema
          and a real Celery worker (prefork, `--concurrency`, default 2 as in deploy/) runs them;
          timed from the dispatch to the last task's result
  celery-c0  the same with DB_CONN_MAX_AGE=0 (a new database session per task)
  flush   django-ninja-jwt's `flushexpiredtokens` command run inside each schema, one after
          the other (the library runs in one schema; django-tenants' all_tenants_command
          loops over them the same way)
  sql     a bare SQL DELETE of the blacklist rows and then of the tokens, per schema, one process
  sql-N   the same bare DELETEs spread over a pool of `--concurrency` processes: the floor for
          the fanned-out purge

Each variant runs in its own Python process (peak memory is that process's peak RSS; for celery
and sql-N, the largest of the pool processes'; the "+MB" figure is the growth over the RSS just
before the purge started) and starts from freshly reseeded tables. After each variant the script
checks that every expired row is gone and every live row and live blacklist row is still there.
`--rounds` repeats this; then the data is reseeded at a tenth of the row count and the six
variants run once more, to show how memory follows the row count. The report (stdout and
results/latest.{md,json}) gives median times and per-round ratios, each from one round's data.

PostgreSQL: DATABASE_URL if given (the script creates and drops its own database
`tenantauth_bench_purge` on that server, so the role needs CREATEDB), else the embedded
PostgreSQL of core.embedded in a throwaway folder. Redis is always an embedded one of its own
(the worker's tasks go through it; on a shared Redis another worker could take them).
"""

from __future__ import annotations

import argparse
import atexit
import json
import multiprocessing
import os
import resource
import secrets
import shutil
import statistics
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
VARIANTS = ("ours", "celery", "celery-c0", "flush", "sql", "sql-N")
# DB_CONN_MAX_AGE of the worker: 60 is the settings default (`make run`); deploy/ sets 0 behind
# PgBouncer, where a new connection per task is cheap. celery-c0 is that setting without the
# pooler: a new PostgreSQL session per task, the worst case.
WORKER_CONN_MAX_AGE = {"celery": "60", "celery-c0": "0"}
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


def _rss_mb(pid: str = "self", field: str = "VmRSS") -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith(f"{field}:"))
    return int(line.split()[1]) / 1024


def _children(pid: int) -> list[int]:
    """The pool processes of a Celery worker: the main process's direct children."""
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _sql_delete(schema: str) -> None:
    from django.db import connection, transaction
    from django.utils import timezone
    from django_tenants.utils import schema_context

    now = timezone.now()
    with schema_context(schema), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {BL} WHERE token_id IN (SELECT id FROM {OT} WHERE expires_at < %s)",
            [now],
        )
        cursor.execute(f"DELETE FROM {OT} WHERE expires_at < %s", [now])


_pool_baseline = 0.0


def _pool_start() -> None:
    global _pool_baseline
    from django.db import connection

    connection.ensure_connection()  # warm, as the Celery worker's processes are
    _reset_peak_rss()
    _pool_baseline = _rss_mb()


def _pool_delete(schema: str) -> tuple[float, float]:
    _sql_delete(schema)
    peak = _peak_rss_mb()
    return peak, peak - _pool_baseline


def _run_celery() -> tuple[float, float, float]:
    """Dispatch the purge to the running worker; (seconds, peak MB, growth MB) of its pool."""
    from celery.result import AsyncResult

    from authapi import tasks

    pool = _children(int(os.environ["BENCH_WORKER_PID"]))
    baseline = {}
    for pid in pool:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        baseline[pid] = _rss_mb(str(pid))
    started = time.perf_counter()
    task_ids = tasks.purge_dispatch.delay().get(timeout=600)
    for task_id in task_ids.values():
        AsyncResult(task_id).get(timeout=600)
    seconds = time.perf_counter() - started
    peaks = {pid: _rss_mb(str(pid), "VmHWM") for pid in pool}
    return seconds, max(peaks.values()), max(peaks[pid] - baseline[pid] for pid in pool)


def child(variant: str) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections
    from django_tenants.utils import schema_context

    from authapi import purge

    schemas = purge.schemas_to_purge()
    if variant in WORKER_CONN_MAX_AGE:
        seconds, peak, growth = _run_celery()
        print(json.dumps({"seconds": seconds, "peak_mb": peak, "growth_mb": growth}))
        return
    if variant == "sql-N":
        connections.close_all()  # the pool forks; each process opens its own
        context = multiprocessing.get_context("fork")
        with context.Pool(int(os.environ["BENCH_CONCURRENCY"]), initializer=_pool_start) as pool:
            pool.map(time.sleep, [0.2] * pool._processes)  # every process started and connected
            started = time.perf_counter()
            peaks = pool.map(_pool_delete, schemas, chunksize=1)
            seconds = time.perf_counter() - started
        peak, growth = max(p for p, _ in peaks), max(g for _, g in peaks)
        print(json.dumps({"seconds": seconds, "peak_mb": peak, "growth_mb": growth}))
        return
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
            _sql_delete(schema)
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
    # Always a Redis of its own: on a shared one, another worker could take the bench's tasks.
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
    from bench.child import run_json_child

    return run_json_child(__file__, ["--child", variant], env, f"variant {variant}")


def _start_worker(env: dict[str, str], concurrency: int) -> subprocess.Popen:
    """A real Celery worker on the bench database, as deploy/start-worker.sh starts it, warmed
    by one dispatch over the (empty) schemas so that every pool process is connected."""
    from celery.result import AsyncResult

    from authapi import tasks

    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "core.celery:app", "worker", "--pool", "prefork",
         "--concurrency", str(concurrency), "--loglevel", "WARNING", "--without-gossip",
         "--without-mingle", "--hostname", f"bench-purge-{os.getpid()}@%h"],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    for _ in range(2):
        for task_id in tasks.purge_dispatch.delay().get(timeout=120).values():
            AsyncResult(task_id).get(timeout=120)
    return worker


def _stop_worker(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()


def _scenario(schemas: list[str], rows: int, live: int, env: dict[str, str]) -> dict[str, dict]:
    figures: dict[str, dict] = {}
    for variant in VARIANTS:
        worker = None
        if variant in WORKER_CONN_MAX_AGE:
            # One worker at a time on the queue, started (and warmed on tables with nothing
            # expired: the previous variant purged them) before the seeding.
            variant_env = dict(env, DB_CONN_MAX_AGE=WORKER_CONN_MAX_AGE[variant])
            worker = _start_worker(variant_env, int(env["BENCH_CONCURRENCY"]))
            env = dict(env, BENCH_WORKER_PID=str(worker.pid))
        t0 = time.perf_counter()
        _seed(schemas, rows, live)
        before = _census(schemas)
        print(
            f"  seeded {before['expired']:,} expired ({before['blacklisted']:,} blacklisted rows "
            f"in all) and {before['live']:,} live in {len(schemas)} schemas "
            f"in {time.perf_counter() - t0:.1f}s",
            flush=True,
        )
        try:
            figures[variant] = _run_variant(variant, env)
        finally:
            if worker is not None:
                _stop_worker(worker)
        after = _census(schemas)
        assert after["expired"] == 0, (variant, after)
        assert after["live"] == before["live"], (variant, after)
        assert after["blacklisted"] == after["blacklisted_live"] == before["blacklisted_live"], (
            variant,
            after,
        )
        f = figures[variant]
        print(
            f"  {variant:6} {f['seconds']:8.2f}s  peak {f['peak_mb']:6.1f} MB  "
            f"(+{f['growth_mb']:.1f} MB during the purge)",
            flush=True,
        )
    return figures


def _summary(rounds: list[dict[str, dict]]) -> dict[str, dict]:
    """Per variant: median time, and the largest peak and growth seen in any round."""
    return {
        variant: {
            "seconds": statistics.median([r[variant]["seconds"] for r in rounds]),
            "peak_mb": max(r[variant]["peak_mb"] for r in rounds),
            "growth_mb": max(r[variant]["growth_mb"] for r in rounds),
        }
        for variant in VARIANTS
    }


def _ratio(rounds: list[dict[str, dict]], slow: str, fast: str) -> tuple[float, list[float]]:
    """Median and list of per-round `slow / fast` time ratios (each from one round's data)."""
    per_round = [r[slow]["seconds"] / r[fast]["seconds"] for r in rounds]
    return statistics.median(per_round), per_round


def _table(title: str, figures: dict[str, dict]) -> str:
    flush = figures["flush"]["seconds"]
    lines = [
        f"{title}",
        "",
        "| variant | time | flush / variant | peak RSS | growth during purge |",
        "|---|---:|---:|---:|---:|",
    ]
    for variant in VARIANTS:
        f = figures[variant]
        lines.append(
            f"| {variant} | {f['seconds']:.2f} s | {flush / f['seconds']:.1f}x | "
            f"{f['peak_mb']:.0f} MB | +{f['growth_mb']:.1f} MB |"
        )
    return "\n".join(lines)


def _verdicts(rounds: list[dict[str, dict]], tenth: dict[str, dict], rows: int, small: int,
              concurrency: int) -> list[str]:  # fmt: skip
    def line(label: str, slow: str, fast: str, target: str) -> str:
        median, per_round = _ratio(rounds, slow, fast)
        rounds_text = ", ".join(f"{r:.2f}" for r in per_round)
        return f"{label:58} {median:6.2f}x  (rounds: {rounds_text}; target {target})"

    full = _summary(rounds)
    return [
        line(f"flushexpiredtokens / ours via Celery ({concurrency} processes)", "flush", "celery",
             ">= 10x"),
        line("flushexpiredtokens / ours via Celery, a new session per task", "flush",
             "celery-c0", "none, for reference"),
        line("flushexpiredtokens / ours in one process", "flush", "ours", "none, for reference"),
        line(f"ours via Celery / bare SQL over {concurrency} processes", "celery", "sql-N",
             "<= 1.5x"),
        line("ours in one process / bare SQL in one process", "ours", "sql", "<= 1.5x"),
        f"memory growth during the purge, at {small:,} and {rows:,} rows: "
        + "; ".join(
            f"{v} +{tenth[v]['growth_mb']:.1f} / +{full[v]['growth_mb']:.1f} MB" for v in VARIANTS
        ),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="expired tokens in all")
    parser.add_argument("--schemas", type=int, default=100, help="tenant schemas")
    parser.add_argument("--live", type=int, default=100, help="live tokens per schema")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=int(os.environ.get("CELERY_CONCURRENCY", "2")),
        help="Celery worker processes, and the pool of sql-N (default: CELERY_CONCURRENCY or 2, "
        "as deploy/ runs the worker)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat the full-size scenario (median reported)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).parent / "results",
        help="folder for latest.json and latest.md",
    )
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
    env = dict(os.environ, BENCH_CONCURRENCY=str(args.concurrency))

    import django

    django.setup()
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    try:
        t0 = time.perf_counter()
        schemas = _create_schemas(args.schemas)
        print(f"created {len(schemas)} schemas in {time.perf_counter() - t0:.1f}s", flush=True)

        small = max(args.rows // 10, args.schemas)
        rounds = []
        for number in range(1, args.rounds + 1):
            print(
                f"\n{args.rows:,} expired rows over {args.schemas} schemas, "
                f"round {number}/{args.rounds}",
                flush=True,
            )
            rounds.append(_scenario(schemas, args.rows, args.live, env))
        print(f"\n{small:,} expired rows over {args.schemas} schemas", flush=True)
        tenth = _scenario(schemas, small, args.live, env)
    finally:
        _drop_database(bench_url)

    full = _summary(rounds)
    command = "bench/purge/run.py " + " ".join(sys.argv[1:])
    report = [
        f"`{command.strip()}`: {os.cpu_count()} CPUs, load average {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after; whole run {time.perf_counter() - started:.0f} s",
        "",
        _table(
            f"{args.rows:,} expired rows, {args.schemas} schemas (median of {args.rounds} "
            f"round{'s' if args.rounds > 1 else ''}):",
            full,
        ),
        "",
        _table(f"{small:,} expired rows, {args.schemas} schemas:", tenth),
        "",
        *_verdicts(rounds, tenth, args.rows, small, args.concurrency),
    ]
    text = "\n".join(report)
    print("\n" + text)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "latest.md").write_text(text + "\n")
    (args.output / "latest.json").write_text(
        json.dumps(
            {"command": command, "cpus": os.cpu_count(), "concurrency": args.concurrency,
             "rows": args.rows, "small_rows": small, "schemas": args.schemas,
             "rounds": rounds, "tenth": tenth},
            indent=2,
        )
        + "\n"
    )  # fmt: skip


if __name__ == "__main__":
    main()
