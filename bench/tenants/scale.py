"""`bench/tenants/run.py --clients N`: one deployment grown to N clients (10,000 by default),
measured on the way at 10, 1,000 and N clients. Issue 18, item 3; SPEC §11.

    make bench-tenants BENCH_ARGS="--clients 10000"
    .venv/bin/python bench/tenants/run.py --clients 1000 --stock-at 100 --migrate-at 1000

One database on one PostgreSQL server (its own embedded one unless DATABASE_URL is set: then it
creates and drops `tenantauth_bench_tenants_scale` there). At every stage (10, 1,000, N, and the
counts given to --stock-at and --migrate-at):

1. grow to that many clients (template copies with a Client, a domain and an admin user, 50 per
   transaction, as run.py's set-up does; timed per client, set-up only);
2. onboarding: `--reps` times, create one more client with `client_onboard` and delete it again
   (`client_delete`); median time per client, with and without the Argon2id hash;
3. `migrate_schemas --executor multiprocessing` with nothing to apply (as deploy/migrate.sh runs
   it), in a child process: wall time and peak memory of every process of its tree.

At `--stock-at` clients the same no-op run with `--all-schemas` (every schema gets its
`migrate`, which is django-tenants' own behaviour). At `--migrate-at` clients a real migration:
authapi's latest migration (0007, API keys: a table, three indexes and a foreign key) is undone
in every schema with raw SQL, then `migrate_schemas --executor multiprocessing` applies it
everywhere (`MIGRATION_PROCESSES` workers); every schema is checked afterwards.

At N clients, last:

4. the web worker: gunicorn started with deploy/gunicorn.conf.py (one sync worker,
   `GUNICORN_MAX_REQUESTS=0` so that it is never recycled in the middle), then
   `GET /api/hello` once with every client's Host header, twice over; the worker's RSS every
   1,000 requests and its peak (VmHWM);
5. the purge fan-out: a real Celery worker (prefork, `--concurrency 2`, as deploy/ starts it),
   `authapi.tasks.purge_dispatch` run on it, then every `purge_schema` it enqueued; time from
   the dispatch to the last task's result, and the peak RSS of every worker process.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]
SCALE_DB = "tenantauth_bench_tenants_scale"
STAGES = (10, 1000)
LATEST = ("authapi", "0007_api_token")
# What authapi.0007 made, dropped to undo it (its AlterField changed choices only).
UNDO_LATEST_SQL = (
    "DROP TABLE {schema}.authapi_apitoken; DROP INDEX {schema}.authapi_session_ended_idx; "
    "DELETE FROM {schema}.django_migrations WHERE app = 'authapi' AND name = '0007_api_token';"
)
UNDO_BATCH = 100  # schemas per transaction: a DROP locks a table and its indexes until commit

console = Console(width=130)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


# --- memory of a process tree -----------------------------------------------------------------


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, VmRSS KiB, name) of every process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss = int(fields.get("VmRSS", "0 kB").split()[0])
        table[int(entry.name)] = (int(fields["PPid"]), rss, fields["Name"].strip())
    return table


def _tree(root: int, table: dict[int, tuple[int, int, str]]) -> set[int]:
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, (parent, _, _) in table.items() if parent == pid]
        tree.update(children)
        frontier.extend(children)
    return tree & set(table)


class TreeSampler:
    """Samples the RSS of `root` and its descendants every `interval` s: the peak of the sum,
    and every process's own peak."""

    def __init__(self, root: int, interval: float = 0.05) -> None:
        self.root = root
        self.interval = interval
        self.peak_sum_kib = 0
        self.peaks_kib: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            table = _processes()
            tree = _tree(self.root, table)
            self.peak_sum_kib = max(self.peak_sum_kib, sum(table[pid][1] for pid in tree))
            for pid in tree:
                self.peaks_kib[pid] = max(self.peaks_kib.get(pid, 0), table[pid][1])
            self._stop.wait(self.interval)

    def figures(self) -> dict[str, float]:
        others = [kib for pid, kib in self.peaks_kib.items() if pid != self.root]
        return {
            "peak_tree_rss_mb": self.peak_sum_kib / 1024,
            "main_process_peak_mb": self.peaks_kib.get(self.root, 0) / 1024,
            "largest_other_process_peak_mb": max(others, default=0) / 1024,
            "other_processes_seen": len(others),
        }


# --- migrate_schemas --------------------------------------------------------------------------


def _migrate_schemas(env: dict[str, str], *extra: str) -> dict[str, Any]:
    argv = [sys.executable, "manage.py", "migrate_schemas", "--tenant"]
    argv += ["--executor", "multiprocessing", "--verbosity", "1", *extra]
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    with TreeSampler(process.pid) as sampler:
        stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"migrate_schemas {' '.join(extra)} failed:\n{stderr[-4000:]}")
    figures: dict[str, Any] = {"seconds": seconds, **sampler.figures()}
    skipped = [line for line in stdout.splitlines() if "at the latest migrations" in line]
    figures["skip_line"] = skipped[0] if skipped else None
    # Where a no-op run's time goes: the skip query and the template check time themselves
    # (tenants.executors); the rest is the command's start (Django, the migration graph).
    query = re.search(r"checked in ([0-9.]+) s\)", figures["skip_line"] or "")
    template = re.search(r"Tenant template checked in ([0-9.]+) s", stdout)
    figures["skip_query_seconds"] = float(query.group(1)) if query else None
    figures["template_check_seconds"] = float(template.group(1)) if template else None
    figures["schemas_migrated"] = stdout.count("=== Starting migration")
    return figures


def _undo_latest(schemas: list[str]) -> None:
    from django.db import connection, transaction

    with _progress() as progress:
        task = progress.add_task(f"undo {LATEST[1]}", total=len(schemas))
        for first in range(0, len(schemas), UNDO_BATCH):
            batch = schemas[first : first + UNDO_BATCH]
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("".join(UNDO_LATEST_SQL.format(schema=s) for s in batch))
            progress.advance(task, len(batch))


def _count_at_latest(schemas: list[str]) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE tablename = 'authapi_apitoken' "
            "AND schemaname = ANY(%s)",
            [schemas],
        )
        return int(cursor.fetchone()[0])


# --- onboarding -------------------------------------------------------------------------------


def _grow(to: int, start: int, admin_hash: str) -> float:
    from bench.tenants import run

    t0 = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task(f"grow to {to:,} clients", total=to - start)
        run._grow(to, start, admin_hash, on_batch=lambda n: progress.advance(task, n))
    return time.perf_counter() - t0


def _onboarding(reps: int, stage: int) -> dict[str, Any]:
    from bench.tenants import run

    run._create_and_delete("ours", f"warm_scale_{stage}")
    creates, nets, deletes = [], [], []
    for rep in range(reps):
        create, net, delete = run._create_and_delete("ours", f"probe_scale_{stage}_{rep}")
        creates.append(create)
        nets.append(net)
        deletes.append(delete)
    return {
        "create": run._summary(creates),
        "create_without_hash": run._summary(nets),
        "delete": run._summary(deletes),
    }


# --- web worker -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _hello(port: int, host: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/api/hello", headers={"Host": host, "X-Forwarded-Proto": "https"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _web_worker(env: dict[str, str], hosts: list[str], passes: int = 2) -> dict[str, Any]:
    port = _free_port()
    server_env = dict(
        env,
        BIND_HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="1",
        LOG_LEVEL="warning",
        GUNICORN_MAX_REQUESTS="0",
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    master = subprocess.Popen(
        [str(gunicorn), "-c", "deploy/gunicorn.conf.py", "core.wsgi:application"],
        cwd=ROOT,
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _hello(port, hosts[0]) == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or master.poll() is not None:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.2)
        children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
        worker = int(children[0])
        curve: list[tuple[int, float]] = [(0, _rss_kib(worker) / 1024)]
        errors = 0
        started = time.perf_counter()
        with _progress() as progress:
            task = progress.add_task("GET /api/hello, every host", total=passes * len(hosts))
            done = 0
            for _ in range(passes):
                for host in hosts:
                    errors += _hello(port, host) != 200
                    done += 1
                    if done % 1000 == 0:
                        curve.append((done, _rss_kib(worker) / 1024))
                        progress.advance(task, 1000)
        seconds = time.perf_counter() - started
        return {
            "hosts": len(hosts),
            "passes": passes,
            "non_200": errors,
            "seconds": seconds,
            "rss_mb_by_requests": curve,
            "worker_peak_mb": _rss_kib(worker, "VmHWM") / 1024,
            "same_worker": worker
            == int(Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()[0]),
        }
    finally:
        master.terminate()
        master.wait(timeout=30)


# --- purge fan-out ----------------------------------------------------------------------------


def _purge_fanout(env: dict[str, str], concurrency: int = 2) -> dict[str, Any]:
    from celery.result import AsyncResult, ResultSet

    from authapi import tasks

    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "core.celery:app", "worker", "--pool", "prefork",
         "--concurrency", str(concurrency), "--loglevel", "WARNING", "--without-gossip",
         "--without-mingle", "--hostname", f"bench-scale-{os.getpid()}@%h"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(2 * concurrency):  # every pool process started and connected
            tasks.purge_schema.delay("public").get(timeout=120)
        with TreeSampler(worker.pid) as sampler:
            started = time.perf_counter()
            task_ids = tasks.purge_dispatch.delay().get(timeout=600)
            dispatched = time.perf_counter() - started
            results = ResultSet([AsyncResult(task_id) for task_id in task_ids.values()])
            results.join_native(timeout=3600, propagate=True)
            seconds = time.perf_counter() - started
        return {
            "schemas": len(task_ids),
            "concurrency": concurrency,
            "dispatch_seconds": dispatched,
            "seconds": seconds,
            "tasks_per_second": len(task_ids) / seconds,
            **sampler.figures(),
        }
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


# --- the run ----------------------------------------------------------------------------------


def main(args: argparse.Namespace) -> None:
    from bench.secrets_env import app_secrets
    from bench.tenants import run

    clients = args.clients
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DEBUG"] = "false"
    tmp = run.make_tmp()
    url = run.prepare_database(tmp, SCALE_DB)
    os.environ["DATABASE_URL"] = url
    for name, value in app_secrets().items():
        os.environ.setdefault(name, value)
    env = dict(os.environ)

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.db import connection, connections

    from tenants.models import Client

    stages = sorted({s for s in (*STAGES, clients, args.stock_at, args.migrate_at) if s})
    stages = [s for s in stages if s <= clients]
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "bench/tenants/run.py " + " ".join(sys.argv[1:]),
        "clients": clients,
        "stages": stages,
        "reps": args.reps,
        "migration_processes": settings.TENANT_MULTIPROCESSING_MAX_PROCESSES,
        "migration_chunks": getattr(settings, "TENANT_MULTIPROCESSING_CHUNKS", 2),
        "migration_max_tasks_per_child": getattr(
            settings, "TENANT_MULTIPROCESSING_MAX_TASKS_PER_CHILD", None
        ),
        "host_cache_size": getattr(settings, "HOST_CACHE_SIZE", None),
        "load_average_at_start": os.getloadavg(),
        "by_stage": {},
    }

    def save() -> None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")

    try:
        connection.ensure_connection()
        result["postgresql"] = connection.pg_version
        run._setup_public()
        admin_hash = make_password(run.PASSWORD)
        run._time_the_hasher()
        have = 0
        for stage in stages:
            figures: dict[str, Any] = {"load_average": os.getloadavg()}
            figures["grow_seconds"] = _grow(stage, have, admin_hash)
            figures["grow_seconds_per_client"] = figures["grow_seconds"] / (stage - have)
            have = stage
            figures["onboarding"] = _onboarding(args.reps, stage)
            ours = figures["onboarding"]["create"]["median"]
            console.print(
                f"[bold]{stage:,} clients[/]: grown at "
                f"{figures['grow_seconds_per_client'] * 1000:.0f} ms per client; onboarding "
                f"{ours:.3f} s per client (median of {args.reps}), without the hash "
                f"{figures['onboarding']['create_without_hash']['median']:.3f} s, delete "
                f"{figures['onboarding']['delete']['median']:.3f} s"
            )
            connections.close_all()
            figures["migrate_noop"] = _migrate_schemas(env)
            noop = figures["migrate_noop"]
            console.print(
                f"  migrate_schemas, nothing to apply: {noop['seconds']:.1f} s, of which the "
                f"skip query {noop['skip_query_seconds']} s and the template check "
                f"{noop['template_check_seconds']} s ({noop['skip_line']})"
            )
            if stage == args.stock_at:
                figures["migrate_noop_all_schemas"] = _migrate_schemas(env, "--all-schemas")
                stock = figures["migrate_noop_all_schemas"]
                console.print(
                    f"  migrate_schemas --all-schemas (django-tenants' behaviour), nothing to "
                    f"apply: {stock['seconds']:.1f} s, {stock['schemas_migrated']} schemas"
                )
            if stage == args.migrate_at:
                schemas = list(
                    Client.objects.exclude(schema_name="public").values_list(
                        "schema_name", flat=True
                    )
                )
                _undo_latest(schemas)
                assert _count_at_latest(schemas) == 0
                connections.close_all()
                real = _migrate_schemas(env)
                assert _count_at_latest(schemas) == len(schemas), "not every schema migrated"
                figures["migrate_real"] = real
                console.print(
                    f"  migrate_schemas applying {LATEST[1]} in {len(schemas):,} schemas: "
                    f"{real['seconds']:.1f} s, peak {real['peak_tree_rss_mb']:.0f} MB for the "
                    f"tree, command {real['main_process_peak_mb']:.0f} MB, largest worker "
                    f"{real['largest_other_process_peak_mb']:.0f} MB "
                    f"({real['other_processes_seen']} worker processes)"
                )
            result["by_stage"][str(stage)] = figures
            save()

        hosts = list(
            Client.objects.exclude(schema_name="public")
            .order_by("id")
            .values_list("domains__domain", flat=True)
        )
        connections.close_all()
        if not args.skip_web:
            result["web_worker"] = web = _web_worker(env, hosts)
            console.print(
                f"web worker after GET /api/hello on {len(hosts):,} hosts x {web['passes']}: "
                f"peak {web['worker_peak_mb']:.0f} MB; curve "
                + ", ".join(f"{n}:{mb:.0f}" for n, mb in web["rss_mb_by_requests"][::5])
            )
            save()
        if not args.skip_purge:
            result["purge_fanout"] = purge = _purge_fanout(env)
            console.print(
                f"purge fan-out over {purge['schemas']:,} schemas: {purge['seconds']:.1f} s "
                f"(dispatch {purge['dispatch_seconds']:.1f} s), worker peak "
                f"{purge['peak_tree_rss_mb']:.0f} MB for the tree, largest process "
                f"{max(purge['main_process_peak_mb'], purge['largest_other_process_peak_mb']):.0f}"
                " MB"
            )
        result["load_average_at_end"] = os.getloadavg()
        save()
    finally:
        run._drop_databases({SCALE_DB: url})
    _report(result)
    console.print(f"figures written to {args.out}")


def _report(result: dict[str, Any]) -> None:
    table = Table(title=f"{result['clients']:,} clients: per stage")
    for column in (
        "clients",
        "onboard (median)",
        "without hash",
        "delete",
        "migrate no-op",
        "no-op, every schema",
        "real migration",
    ):
        table.add_column(column, justify="right")
    for stage, f in result["by_stage"].items():
        stock = f.get("migrate_noop_all_schemas")
        real = f.get("migrate_real")
        table.add_row(
            f"{int(stage):,}",
            f"{f['onboarding']['create']['median']:.3f} s",
            f"{f['onboarding']['create_without_hash']['median']:.3f} s",
            f"{f['onboarding']['delete']['median']:.3f} s",
            f"{f['migrate_noop']['seconds']:.1f} s",
            f"{stock['seconds']:.1f} s" if stock else "",
            f"{real['seconds']:.1f} s, {real['peak_tree_rss_mb']:.0f} MB" if real else "",
        )
    console.print(table)
