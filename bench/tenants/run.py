"""Benchmark: onboarding and deleting a client at 10 and at 1,000 tenants, ours against
django-tenants' default, and `migrate_schemas --executor multiprocessing` across 1,000 tenants.

    .venv/bin/python bench/tenants/run.py            # 1,000 tenants, 7 rounds (~15 min on 2 cores)
    .venv/bin/python bench/tenants/run.py --quick    # 100 tenants, 3 rounds (~1 min)
    .venv/bin/python bench/tenants/run.py --tenants 2000 --reps 9 --skip-migrate
    .venv/bin/python bench/tenants/run.py --clients 10000   # one deployment grown to 10,000
                                                          # (bench/tenants/scale.py)

In one run, on one PostgreSQL server:

1. Set-up: two databases, one with `--small` tenants (10), one with `--tenants` (1,000); in each
   the public schema, the tenant template, then tenants `bench_00001`..., each a copy of the
   template (tenants.schema_clone) with a Client row, a domain and one admin user, many per
   transaction. Timed, but set-up only. (PostgreSQL's catalogs are per database, so each
   database is what a deployment with that many tenants looks like.)
2. `--reps` rounds; in each, at both tenant counts (alternating which goes first), create one
   more client and delete it again with each of:

     ours      onboarding.services.client_onboard (what the admin form and `create_client` run):
               a copy of the template, domain and first admin in one transaction; deleted with
               tenants.services.client_delete (DROP SCHEMA and the rows, one transaction)
     default   django-tenants' default: the same steps, but the schema made by
               `Client.create_schema()`, which replays every migration into it (what onboarding
               did before the template); deleted with `Client.delete(force_drop=True)`
     dt-clone  django-tenants' own clone (TENANT_CREATION_FAKES_MIGRATIONS + TENANT_BASE_SCHEMA
               = our template: pg-clone-schema's `clone_schema()` then `migrate_schemas --fake`),
               deleted like default. For reference; the product does not use it.

   Rounds interleave the counts and the variants so that other load on the machine falls on all
   of them alike. One uncounted warm-up of each comes first. After each create the new schema is
   checked (fully migrated, one admin user), outside the timings. Every create hashes the first
   admin's password with the production hasher (Argon2id): the same cost in every column, shown
   on its own.
3. `migrate_schemas --executor multiprocessing` across the 1,000 tenants, in a child process,
   twice: with nothing to apply (what every deployment pays), and after un-applying authapi.0007
   (API keys, raw SQL) in every tenant so that one migration is applied in each.
   Peak memory is the highest sum of the RSS of the process tree (the command and its pool
   workers), sampled every 20 ms from /proc; also shown: the largest single process's peak
   (ru_maxrss of the children of a small wrapper process that runs only that command). The wall
   time includes the command's Django start-up. PostgreSQL's own memory is not counted.

Prints tables and writes the figures as JSON (`--out`, default bench/tenants/figures.json).
PostgreSQL: its own embedded server in a throwaway folder (core.embedded), or DATABASE_URL's
server, where it creates and drops the databases `tenantauth_bench_tenants_small` and `_large`
(the role needs CREATEDB).
"""

from __future__ import annotations

import argparse
import atexit
import io
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.secrets_env import app_secrets  # noqa: E402

BENCH_DB = "tenantauth_bench_tenants"
PASSWORD = "Bench-admin-passw0rd"
VARIANTS = ("ours", "default", "dt-clone")
SETUP_BATCH = 50


# --- database --------------------------------------------------------------------------------


def make_tmp() -> Path:
    """The throwaway folder of the embedded servers, removed at exit (after they stop)."""
    tmp = Path(tempfile.mkdtemp(prefix="tenantauth-bench-tenants-"))
    atexit.register(shutil.rmtree, tmp, True)  # runs last, after the embedded servers stop
    os.environ.setdefault("TENANTAUTH_DATA_DIR", str(tmp))
    return tmp


def prepare_database(tmp: Path, *names: str) -> str:
    """Fresh, empty databases `names` on DATABASE_URL's server (or an embedded one), and Redis;
    returns the URL of the first."""
    import psycopg

    from core import embedded

    server_url = os.environ.get("DATABASE_URL") or embedded.ensure_postgres(tmp)
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = embedded.ensure_redis(tmp)
    with psycopg.connect(server_url, autocommit=True) as conn:
        for name in names:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
    return urlsplit(server_url)._replace(path="/" + names[0]).geturl()


def _prepare_databases(tmp: Path) -> dict[str, str]:
    """Fresh, empty bench databases (one per tenant count) by name, with their URLs."""
    names = [f"{BENCH_DB}_{suffix}" for suffix in ("small", "large")]
    first = prepare_database(tmp, *names)
    return {name: urlsplit(first)._replace(path="/" + name).geturl() for name in names}


def _drop_databases(urls: dict[str, str]) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    for name, url in urls.items():
        server_url = urlsplit(url)._replace(path="/postgres").geturl()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")


def _use_database(name: str) -> None:
    """Point the default connection at another bench database (same server and role)."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = name
    connection.set_schema_to_public()


# --- set-up ----------------------------------------------------------------------------------


def _setup_public() -> None:
    from django.core.management import call_command

    call_command("migrate_schemas", "--shared", verbosity=0)
    call_command("ensure_public_tenant", stdout=io.StringIO())
    call_command("tenant_template", stdout=io.StringIO())


def _grow(
    to: int, start: int, admin_hash: str, on_batch: Callable[[int], None] | None = None
) -> None:
    """Tenants `start+1`..`to`: template copies with a Client, a domain and an admin user;
    `on_batch(n)` after each transaction of n (else a line every 100)."""
    from django.db import connection, transaction
    from django_tenants.utils import schema_context

    from authapi.models import Role, User
    from tenants import template
    from tenants.models import Client, Domain
    from tenants.schema_clone import schema_clone

    for first in range(start + 1, to + 1, SETUP_BATCH):
        numbers = range(first, min(first + SETUP_BATCH, to + 1))
        with transaction.atomic():
            template.template_lock()
            description = template.template_ready()
            clients = Client.objects.bulk_create(
                Client(name=f"Bench {n}", schema_name=f"bench_{n:05d}") for n in numbers
            )
            Domain.objects.bulk_create(
                Domain(domain=f"bench-{c.schema_name[6:]}.localhost", tenant=c, is_primary=True)
                for c in clients
            )
            for client in clients:
                schema_clone(
                    source=description.schema, target=client.schema_name, description=description
                )
                with schema_context(client.schema_name):
                    User.objects.create(
                        username="admin",
                        email="admin@bench.test",
                        password=admin_hash,
                        role=Role.ADMIN,
                        is_staff=True,
                        is_superuser=True,
                    )
        connection.set_schema_to_public()
        done = numbers[-1]
        if on_batch is not None:
            on_batch(len(numbers))
        elif done % 100 == 0 or done == to:
            print(f"  {done:5d} tenants", flush=True)


# --- the variants ----------------------------------------------------------------------------


def _onboard_ours(schema: str) -> object:
    from onboarding.services import client_onboard

    return client_onboard(
        name=f"Probe {schema}",
        schema_name=schema,
        domain=f"{schema.replace('_', '-')}.localhost",
        admin_username="admin",
        admin_email="admin@probe.test",
        admin_password=PASSWORD,
    )


def _onboard_default(schema: str) -> object:
    """What client_onboard did before the template: django-tenants' create_schema, which
    replays every migration into the new schema; the same validation, domain and admin."""
    from django.contrib.auth.password_validation import validate_password
    from django.db import transaction
    from django_tenants.utils import schema_context

    from authapi.services import user_create
    from tenants.models import Client, Domain
    from tenants.services import validate_domain_name, validate_schema_name

    domain = f"{schema.replace('_', '-')}.localhost"
    validate_schema_name(schema)
    validate_domain_name(domain)
    validate_password(PASSWORD)
    with transaction.atomic():
        client = Client(name=f"Probe {schema}", schema_name=schema)
        client.save()
        client.create_schema(check_if_exists=False, verbosity=0)
        Domain.objects.create(domain=domain, tenant=client, is_primary=True)
        with schema_context(schema):
            user_create(username="admin", email="admin@probe.test", password=PASSWORD, role="admin")
    return client


def _onboard_dt_clone(schema: str) -> object:
    from django.test import override_settings

    from tenants import template

    with override_settings(
        TENANT_CREATION_FAKES_MIGRATIONS=True,
        TENANT_BASE_SCHEMA=template.template_schema_name(),
    ):
        return _onboard_default(schema)


def _delete_ours(client: object) -> None:
    from tenants.services import client_delete

    client_delete(client=client)  # type: ignore[arg-type]


def _delete_default(client: object) -> None:
    client.delete(force_drop=True)  # type: ignore[attr-defined]


RUNS: dict[str, tuple[Callable[[str], object], Callable[[object], None]]] = {
    "ours": (_onboard_ours, _delete_ours),
    "default": (_onboard_default, _delete_default),
    "dt-clone": (_onboard_dt_clone, _delete_default),
}


def _check_schema(schema: str) -> None:
    """Every variant must leave a complete, fully migrated client behind."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    connection.set_schema(schema, include_public=False)
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM authapi_user")
            users = cursor.fetchone()[0]
    finally:
        connection.set_schema_to_public()
    assert plan == [] and users == 1, (schema, plan, users)


_HASH_SECONDS: list[float] = []


def _time_the_hasher() -> None:
    """Record how long each Argon2 hash takes (behaviour unchanged), so that the create time
    can be shown without it too: the hash is the same work in every variant."""
    from django.contrib.auth.hashers import Argon2PasswordHasher

    encode = Argon2PasswordHasher.encode

    def timed_encode(self, password, salt):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return encode(self, password, salt)
        finally:
            _HASH_SECONDS.append(time.perf_counter() - t0)

    Argon2PasswordHasher.encode = timed_encode  # type: ignore[method-assign]


def _create_and_delete(variant: str, schema: str) -> tuple[float, float, float]:
    """Seconds to create (all of it, and without the password hash) and to delete."""
    onboard, delete = RUNS[variant]
    hashes = len(_HASH_SECONDS)
    t0 = time.perf_counter()
    client = onboard(schema)
    t1 = time.perf_counter()
    hashing = sum(_HASH_SECONDS[hashes:])
    _check_schema(schema)
    t2 = time.perf_counter()
    delete(client)
    return t1 - t0, t1 - t0 - hashing, time.perf_counter() - t2


def _measure(databases: dict[int, str], reps: int) -> dict[int, dict[str, dict]]:
    """`reps` rounds; each round creates and deletes one client with every variant at every
    tenant count, so that whatever else loads the machine falls on all of them alike."""
    figures = {
        n: {v: {"create": [], "create_without_hash": [], "delete": []} for v in VARIANTS}
        for n in databases
    }
    for database in databases.values():  # warm-up, not counted: first-call costs
        _use_database(database)
        for variant in VARIANTS:
            _create_and_delete(variant, f"warm_{variant.replace('-', '')}")
    for rep in range(reps):
        order = list(databases) if rep % 2 == 0 else list(reversed(databases))
        line = []
        for n in order:
            _use_database(databases[n])
            for variant in VARIANTS:
                create, net, delete = _create_and_delete(
                    variant, f"probe_{variant.replace('-', '')}_{rep}"
                )
                figures[n][variant]["create"].append(create)
                figures[n][variant]["create_without_hash"].append(net)
                figures[n][variant]["delete"].append(delete)
                line.append(f"{variant}@{n} {create:.3f}+{delete:.3f}s")
        print(f"  round {rep + 1}/{reps}: " + "  ".join(line), flush=True)
    return figures


# --- migrate_schemas -------------------------------------------------------------------------


def _tree_rss_kib(root_pid: int) -> int:
    """Sum of VmRSS over `root_pid` and its descendants."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(entry.name)] = int(fields["PPid"])
        rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0])
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        tree.update(children)
        frontier.extend(children)
    return sum(rss.get(pid, 0) for pid in tree)


def child_migrate() -> None:
    """Run `migrate_schemas --executor multiprocessing` as a child and print its wall time and
    peak memory. A separate process, so that RUSAGE_CHILDREN covers that command only."""
    argv = [sys.executable, "manage.py", "migrate_schemas", "--executor", "multiprocessing"]
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_kib(process.pid))
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"migrate_schemas failed:\n{stderr}")
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_tree_rss_mb": peak / 1024,
                "largest_process_maxrss_mb": largest / 1024,
            }
        )
    )


def _migrate_schemas(env: dict[str, str]) -> dict[str, float]:
    from bench.child import run_json_child

    return run_json_child(__file__, ["--child-migrate"], env, "migrate_schemas run")


def _unapply_last_migration(schemas: list[str]) -> None:
    """Un-apply authapi's latest migration (0007, raw SQL) in every tenant schema, as if it
    were new (bench/tenants/scale.py)."""
    from bench.tenants.scale import _undo_latest

    _undo_latest(schemas)


def _all_applied(schemas: list[str]) -> bool:
    from bench.tenants.scale import _count_at_latest

    return _count_at_latest(schemas) == len(schemas)


# --- report ----------------------------------------------------------------------------------


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _report(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=130)
    small, large = result["small"], result["tenants"]
    at = {n: result["onboarding"][str(n)] for n in (small, large)}
    table = Table(title=f"Create one client, then delete it: medians of {result['reps']} rounds")
    table.add_column("variant")
    for what in ("create", "create, hash excluded", "delete"):
        table.add_column(f"{what} @ {small}", justify="right")
        table.add_column(f"@ {large}", justify="right")
        table.add_column("ratio", justify="right")
    for variant in result["variants"]:
        row = [variant]
        for key in ("create", "create_without_hash", "delete"):
            a, b = (at[n][variant][key]["median"] for n in (small, large))
            row += [f"{a:.3f} s", f"{b:.3f} s", f"{b / a:.2f}x"]
        table.add_row(*row)
    console.print(table)
    start, end = (
        "/".join(f"{x:.1f}" for x in result[f"load_average_at_{when}"]) for when in ("start", "end")
    )
    console.print(
        f"Argon2id hash of the first admin's password, inside every create: median "
        f"{result['hash_seconds_median']:.3f} s. Load average (1/5/15 min): {start} at start, "
        f"{end} at end."
    )
    ours = at[large]["ours"]["create"]["median"]
    default = at[large]["default"]["create"]["median"]
    console.print(
        f"At {large} tenants: ours {ours:.3f} s per client (target < 0.5 s), "
        f"{default / ours:.1f}x faster than django-tenants' default."
    )
    if result["migrate_schemas"]:
        table = Table(title=f"migrate_schemas --executor multiprocessing, {large} tenants")
        for column in ("run", "wall time", "peak RSS, process tree", "largest process"):
            table.add_column(column, justify="left" if column == "run" else "right")
        for run, figures in result["migrate_schemas"].items():
            table.add_row(
                run,
                f"{figures['seconds']:.1f} s",
                f"{figures['peak_tree_rss_mb']:.0f} MB",
                f"{figures['largest_process_maxrss_mb']:.0f} MB",
            )
        console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000, help="tenant count to measure at")
    parser.add_argument("--small", type=int, default=10, help="the small tenant count")
    parser.add_argument("--reps", type=int, default=7, help="rounds of create + delete")
    parser.add_argument("--quick", action="store_true", help="100 tenants, 3 rounds")
    parser.add_argument("--skip-migrate", action="store_true", help="no migrate_schemas runs")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("figures.json"))
    parser.add_argument("--child-migrate", action="store_true", help=argparse.SUPPRESS)
    scale = parser.add_argument_group(
        "one deployment grown to --clients (bench/tenants/scale.py); --reps defaults to 5 there"
    )
    scale.add_argument("--clients", type=int, help="grow one deployment to this many clients")
    scale.add_argument(
        "--stock-at", type=int, default=1000, help="no-op migrate_schemas --all-schemas here"
    )
    scale.add_argument(
        "--migrate-at", type=int, default=1000, help="a real migration of every schema here"
    )
    scale.add_argument("--skip-web", action="store_true", help="no web worker RSS run")
    scale.add_argument("--skip-purge", action="store_true", help="no purge fan-out run")
    args = parser.parse_args()
    if args.child_migrate:
        child_migrate()
        return
    if args.clients:
        from bench.tenants import scale

        if "--reps" not in sys.argv:
            args.reps = 5
        if args.out == parser.get_default("out"):
            args.out = Path(__file__).with_name(f"scale-{args.clients}.json")
        scale.main(args)
        return
    if args.quick:
        args.tenants, args.reps = 100, 3
    if not 1 <= args.small < args.tenants:
        parser.error("need 1 <= --small < --tenants")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DEBUG"] = "false"  # no query log in memory, as in production
    tmp = make_tmp()
    urls = _prepare_databases(tmp)
    small_db, large_db = urls
    os.environ["DATABASE_URL"] = urls[large_db]
    for name, value in app_secrets().items():
        os.environ.setdefault(name, value)
    env = dict(os.environ)  # the migrate_schemas runs: the large database

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.db import connection, connections

    from tenants.models import Client

    result: dict = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "tenants": args.tenants,
        "small": args.small,
        "reps": args.reps,
        "variants": list(VARIANTS),
        "migration_processes": settings.TENANT_MULTIPROCESSING_MAX_PROCESSES,
        "load_average_at_start": os.getloadavg(),
        "onboarding": {},
        "migrate_schemas": {},
    }
    try:
        connection.ensure_connection()
        result["postgresql"] = connection.pg_version
        admin_hash = make_password(PASSWORD)
        for database, count in ((small_db, args.small), (large_db, args.tenants)):
            t0 = time.perf_counter()
            _use_database(database)
            _setup_public()
            print(f"{database}: {count} tenants (template copies)", flush=True)
            _grow(count, 0, admin_hash)
            result[f"setup_seconds_{count}"] = time.perf_counter() - t0
            print(f"  set up in {result[f'setup_seconds_{count}']:.1f}s", flush=True)

        _time_the_hasher()
        print(f"create and delete one client at {args.small} and at {args.tenants} tenants:")
        figures = _measure({args.small: small_db, args.tenants: large_db}, args.reps)
        result["hash_seconds_median"] = statistics.median(_HASH_SECONDS)
        for n, by_variant in figures.items():
            result["onboarding"][str(n)] = {
                v: {k: _summary(vs) for k, vs in f.items()} for v, f in by_variant.items()
            }

        if not args.skip_migrate:
            _use_database(large_db)
            schemas = list(
                Client.objects.exclude(schema_name="public").values_list("schema_name", flat=True)
            )
            assert len(schemas) == args.tenants
            connections.close_all()
            print("migrate_schemas, nothing to apply ...", flush=True)
            result["migrate_schemas"]["nothing to apply"] = _migrate_schemas(env)
            _unapply_last_migration(schemas)
            assert not _all_applied(schemas[:1])
            connections.close_all()
            print("migrate_schemas, one migration to apply in every tenant ...", flush=True)
            result["migrate_schemas"]["one migration per tenant"] = _migrate_schemas(env)
            assert _all_applied(schemas)
    finally:
        _drop_databases(urls)

    result["load_average_at_end"] = os.getloadavg()
    print()
    _report(result)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"figures written to {args.out}")


if __name__ == "__main__":
    main()
