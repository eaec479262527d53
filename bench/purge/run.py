"""Benchmark: purge of expired tokens, sessions and API keys over many schemas, against the
alternatives.

    .venv/bin/python bench/purge/run.py                          # 1,000,000 rows, 100 schemas
    .venv/bin/python bench/purge/run.py --rows 100000 --schemas 20   # quick check

Seeds `--rows` expired outstanding tokens (every third one blacklisted) spread evenly over
`--schemas` tenant schemas, plus `--live` live tokens per schema (every third one blacklisted
too); `--sessions` dead sessions (default one per 5 expired tokens: half past their absolute
lifetime, half ended longer ago than a refresh token lives) and `--api-keys` expired API keys
(default one per 250 tokens), spread the same way, plus live ones in every schema that must
survive (`--live` / 5 open sessions, `--live` / 20 ended within the refresh lifetime,
`--live` / 10 API keys, half without expiry). Then times and takes the peak memory of six
ways of purging every schema:

  ours    authapi.purge.tokens_purge_expired per schema in one process (what
          `manage.py purge_expired_tokens` runs), default batch size: tokens, sessions, keys
  celery  the purge as deployed: `purge_dispatch` enqueues one `purge_schema` task per schema
          and a real Celery worker (prefork, `--concurrency`, default 2 as in deploy/) runs them;
          timed from the dispatch to the last task's result
  celery-c0  the same with DB_CONN_MAX_AGE=0 (a new database session per task)
  flush   django-ninja-jwt's `flushexpiredtokens` command run inside each schema, one after
          the other (the library runs in one schema; django-tenants' all_tenants_command
          loops over them the same way). It knows tokens only: sessions and API keys stay,
          so its time is for less work than every other variant's
  sql     a bare SQL DELETE of the blacklist rows, of the tokens, of the dead sessions and of the
          expired keys, per schema in one transaction, one process
  sql-N   the same bare DELETEs spread over a pool of `--concurrency` processes: the floor for
          the fanned-out purge

Each variant runs in its own Python process (peak memory is that process's peak RSS; for celery
and sql-N, the largest of the pool processes'; the "+MB" figure is the growth over the RSS just
before the purge started) and starts from freshly reseeded tables. After each variant the script
checks that every expired token is gone and every live token and live blacklist row is still
there; for every variant but flush, that no dead session or expired key is left and every live
one is still there; for flush, that it left sessions and keys untouched (reported).
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

from bench.purge.seed import (  # noqa: E402
    AK,
    BL,
    OT,
    SE,
    census,
    create_schemas,
    refresh_lifetime,
    seed,
)
from bench.secrets_env import app_secrets  # noqa: E402

BENCH_DB = "tenantauth_bench_purge"
VARIANTS = ("ours", "celery", "celery-c0", "flush", "sql", "sql-N")
# DB_CONN_MAX_AGE of the worker: 60 is the settings default (`make run`); deploy/ sets 0 behind
# PgBouncer, where a new connection per task is cheap. celery-c0 is that setting without the
# pooler: a new PostgreSQL session per task, the worst case.
WORKER_CONN_MAX_AGE = {"celery": "60", "celery-c0": "0"}
# flushexpiredtokens knows tokens only; every other variant also purges sessions and API keys.
TOKENS_ONLY = ("flush",)


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
        cursor.execute(
            f"DELETE FROM {SE} WHERE expires_at < %s OR ended_at < %s",
            [now, now - refresh_lifetime()],
        )
        cursor.execute(f"DELETE FROM {AK} WHERE expires_at < %s", [now])


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


# --- parent: database, variants, report ------------------------------------------------------


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


def _scenario(
    schemas: list[str], amounts: tuple[int, int, int, int], env: dict[str, str]
) -> tuple[dict[str, dict], dict[str, int]]:
    """Every variant on freshly seeded data (`amounts`: the arguments of seed after `schemas`);
    the variants' figures, and what was seeded (the census before the last variant)."""
    figures: dict[str, dict] = {}
    before: dict[str, int] = {}
    for variant in VARIANTS:
        worker = None
        if variant in WORKER_CONN_MAX_AGE:
            # One worker at a time on the queue, started (and warmed on tables with nothing
            # expired: the previous variant purged them) before the seeding.
            variant_env = dict(env, DB_CONN_MAX_AGE=WORKER_CONN_MAX_AGE[variant])
            worker = _start_worker(variant_env, int(env["BENCH_CONCURRENCY"]))
            env = dict(env, BENCH_WORKER_PID=str(worker.pid))
        t0 = time.perf_counter()
        seed(schemas, *amounts)
        before = census(schemas)
        print(
            f"  seeded {before['expired']:,} expired tokens ({before['blacklisted']:,} "
            f"blacklisted rows in all), {before['sessions_dead']:,} dead sessions, "
            f"{before['keys_expired']:,} expired API keys; live: {before['live']:,} tokens, "
            f"{before['sessions_live']:,} sessions, {before['keys_live']:,} keys; "
            f"{len(schemas)} schemas, {time.perf_counter() - t0:.1f}s",
            flush=True,
        )
        try:
            figures[variant] = _run_variant(variant, env)
        finally:
            if worker is not None:
                _stop_worker(worker)
        after = census(schemas)
        assert after["expired"] == 0, (variant, after)
        assert after["live"] == before["live"], (variant, after)
        assert after["blacklisted"] == after["blacklisted_live"] == before["blacklisted_live"], (
            variant,
            after,
        )
        assert after["sessions_live"] == before["sessions_live"], (variant, before, after)
        assert after["keys_live"] == before["keys_live"], (variant, before, after)
        if variant in TOKENS_ONLY:  # it knows no sessions or keys: all left as they were
            assert after["sessions_dead"] == before["sessions_dead"], (variant, before, after)
            assert after["keys_expired"] == before["keys_expired"], (variant, before, after)
        else:
            assert after["sessions_dead"] == after["keys_expired"] == 0, (variant, after)
        f = figures[variant]
        f["left_sessions_dead"] = after["sessions_dead"]
        f["left_keys_expired"] = after["keys_expired"]
        print(
            f"  {variant:6} {f['seconds']:8.2f}s  peak {f['peak_mb']:6.1f} MB  "
            f"(+{f['growth_mb']:.1f} MB during the purge); left {after['sessions_dead']:,} dead "
            f"sessions, {after['keys_expired']:,} expired keys",
            flush=True,
        )
    return figures, before


def _summary(rounds: list[dict[str, dict]]) -> dict[str, dict]:
    """Per variant: median time, and the largest peak, growth and rows left seen in any round."""
    return {
        variant: {
            "seconds": statistics.median([r[variant]["seconds"] for r in rounds]),
            "peak_mb": max(r[variant]["peak_mb"] for r in rounds),
            "growth_mb": max(r[variant]["growth_mb"] for r in rounds),
            "left_sessions_dead": max(r[variant]["left_sessions_dead"] for r in rounds),
            "left_keys_expired": max(r[variant]["left_keys_expired"] for r in rounds),
        }
        for variant in VARIANTS
    }


def _ratio(rounds: list[dict[str, dict]], slow: str, fast: str) -> tuple[float, list[float]]:
    """Median and list of per-round `slow / fast` time ratios (each from one round's data)."""
    per_round = [r[slow]["seconds"] / r[fast]["seconds"] for r in rounds]
    return statistics.median(per_round), per_round


def _table(title: str, figures: dict[str, dict], seeded: dict[str, int]) -> str:
    flush = figures["flush"]["seconds"]
    lines = [
        f"{title}",
        "",
        f"Seeded: {seeded['expired']:,} expired tokens ({seeded['blacklisted']:,} blacklist rows "
        f"in all, of expired and live tokens), {seeded['sessions_dead']:,} sessions past their "
        f"lifetime or ended longer ago than a refresh token lives, {seeded['keys_expired']:,} "
        f"expired API keys; kept: {seeded['live']:,} live tokens, {seeded['sessions_live']:,} "
        f"live sessions, {seeded['keys_live']:,} live keys. flush does the token part only (it "
        'knows no sessions or keys), so "flush / variant" compares its token work with the '
        "others doing everything.",
        "",
        "| variant | deletes | time | flush / variant | peak RSS | growth during purge | "
        "dead sessions / expired keys left |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for variant in VARIANTS:
        f = figures[variant]
        deletes = "tokens only" if variant in TOKENS_ONLY else "tokens, sessions, keys"
        lines.append(
            f"| {variant} | {deletes} | {f['seconds']:.2f} s | {flush / f['seconds']:.1f}x | "
            f"{f['peak_mb']:.0f} MB | +{f['growth_mb']:.1f} MB | "
            f"{f['left_sessions_dead']:,} / {f['left_keys_expired']:,} |"
        )
    return "\n".join(lines)


def _verdicts(rounds: list[dict[str, dict]], tenth: dict[str, dict], rows: int, small: int,
              concurrency: int) -> list[str]:  # fmt: skip
    def line(label: str, slow: str, fast: str, target: str) -> str:
        median, per_round = _ratio(rounds, slow, fast)
        rounds_text = ", ".join(f"{r:.2f}" for r in per_round)
        return f"{label:64} {median:6.2f}x  (rounds: {rounds_text}; target {target})"

    full = _summary(rounds)
    return [
        line(f"flush (tokens) / ours via Celery ({concurrency} processes, everything)", "flush",
             "celery", ">= 10x"),
        line("flush (tokens) / ours via Celery, a new session per task", "flush",
             "celery-c0", "none, for reference"),
        line("flush (tokens) / ours in one process (everything)", "flush", "ours",
             "none, for reference"),
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
        "--sessions", type=int, help="dead sessions in all (default: one per 5 expired tokens)"
    )
    parser.add_argument(
        "--api-keys", type=int, help="expired API keys in all (default: one per 250 tokens)"
    )
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
    for name, value in app_secrets().items():
        os.environ.setdefault(name, value)
    env = dict(os.environ, BENCH_CONCURRENCY=str(args.concurrency))

    import django

    django.setup()
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    try:
        t0 = time.perf_counter()
        schemas = create_schemas(args.schemas)
        print(f"created {len(schemas)} schemas in {time.perf_counter() - t0:.1f}s", flush=True)

        small = max(args.rows // 10, args.schemas)
        sessions = args.rows // 5 if args.sessions is None else args.sessions
        keys = args.rows // 250 if args.api_keys is None else args.api_keys
        rounds = []
        for number in range(1, args.rounds + 1):
            print(
                f"\n{args.rows:,} expired rows over {args.schemas} schemas, "
                f"round {number}/{args.rounds}",
                flush=True,
            )
            figures, seeded = _scenario(schemas, (args.rows, args.live, sessions, keys), env)
            rounds.append(figures)
        print(f"\n{small:,} expired rows over {args.schemas} schemas", flush=True)
        tenth, seeded_tenth = _scenario(
            schemas, (small, args.live, sessions // 10, keys // 10), env
        )
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
            seeded,
        ),
        "",
        _table(f"{small:,} expired rows, {args.schemas} schemas:", tenth, seeded_tenth),
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
             "seeded": seeded, "seeded_tenth": seeded_tenth, "rounds": rounds, "tenth": tenth},
            indent=2,
        )
        + "\n"
    )  # fmt: skip


if __name__ == "__main__":
    main()
