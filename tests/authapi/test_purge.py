"""Purge of expired tokens: a real Celery worker on the real Redis, the beat entry, retries,
the management command, batching and concurrent purges of one schema."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from celery.result import AsyncResult
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.utils import timezone
from django_tenants.utils import schema_context
from ninja_jwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from authapi import purge, tasks
from core.celery import app

ROOT = Path(__file__).resolve().parents[2]


# --- helpers ---------------------------------------------------------------------------------


def seed(schema: str, *, expired: int, live: int, blacklist_every: int = 3) -> None:
    """`expired` expired and `live` live outstanding tokens; every `blacklist_every`-th of each
    kind is also blacklisted."""
    now = timezone.now()
    with schema_context(schema):
        rows = [
            OutstandingToken(
                jti=uuid.uuid4().hex,
                token=f"expired-{i}",
                created_at=now - timedelta(days=2),
                expires_at=now - timedelta(hours=1, seconds=i),
            )
            for i in range(expired)
        ] + [
            OutstandingToken(
                jti=uuid.uuid4().hex,
                token=f"live-{i}",
                created_at=now,
                expires_at=now + timedelta(days=1, seconds=i),
            )
            for i in range(live)
        ]
        made = OutstandingToken.objects.bulk_create(rows)
        BlacklistedToken.objects.bulk_create(
            BlacklistedToken(token=token) for token in made[::blacklist_every]
        )


def counts(schema: str) -> dict[str, int]:
    now = timezone.now()
    with schema_context(schema):
        return {
            "expired": OutstandingToken.objects.filter(expires_at__lt=now).count(),
            "live": OutstandingToken.objects.filter(expires_at__gte=now).count(),
            "blacklisted_live": BlacklistedToken.objects.filter(token__expires_at__gte=now).count(),
            "blacklisted": BlacklistedToken.objects.count(),
        }


def live_blacklist_count(expired: int, live: int, every: int = 3) -> int:
    return len([i for i in range(expired + live) if i % every == 0 and i >= expired])


def test_database_url() -> str:
    """DATABASE_URL pointed at pytest-django's test database, for subprocesses."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return parts._replace(path="/" + connection.settings_dict["NAME"]).geturl()


test_database_url.__test__ = False  # type: ignore[attr-defined]


def subprocess_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DB_CONN_MAX_AGE": "0",
        "SECRET_KEY": settings.SECRET_KEY,  # DEBUG is off once DATABASE_URL is given
        "DJANGO_SETTINGS_MODULE": "core.settings",
        **extra,
    }


@contextlib.contextmanager
def running_worker(log: Path, *, concurrency: int = 2, **env: str) -> Iterator[Path]:
    """A real `celery -A core.celery:app worker` on the test database and the test Redis."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "core.celery:app",
                "worker",
                "-l",
                "info",
                "--concurrency",
                str(concurrency),
                "-n",
                f"purge-test-{uuid.uuid4().hex[:8]}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=subprocess_env(**env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def celery_worker_process(tmp_path):
    with running_worker(tmp_path / "worker.log") as log:
        yield log


@pytest.fixture
def eager_celery():
    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


# --- (a) a real worker on the real broker ----------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_real_worker_purges_expired_rows_in_every_schema_and_keeps_live_ones(
    tenant_a, tenant_b, public_tenant, clean_tenant_tables, celery_worker_process
):
    layout = {"public": (7, 4), tenant_a.schema_name: (30, 5), tenant_b.schema_name: (12, 9)}
    for schema, (expired, live) in layout.items():
        seed(schema, expired=expired, live=live)
        assert counts(schema)["expired"] == expired

    try:
        dispatched = tasks.purge_dispatch.delay().get(timeout=90)
        assert set(dispatched) == set(layout)
        results = {
            schema: AsyncResult(task_id, app=app).get(timeout=90)
            for schema, task_id in dispatched.items()
        }
    except Exception:
        print(celery_worker_process.read_text())
        raise

    for schema, (expired, live) in layout.items():
        assert results[schema] == {
            "schema": schema,
            "outstanding_deleted": expired,
            "blacklisted_deleted": len(range(0, expired, 3)),
        }
        left = counts(schema)
        assert left["expired"] == 0
        assert left["live"] == live
        kept = live_blacklist_count(expired, live)
        assert left["blacklisted"] == left["blacklisted_live"] == kept
    log = celery_worker_process.read_text()
    assert f"event=tokens_purged schema={tenant_a.schema_name} outstanding=30 blacklisted=10" in log


@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_database_session_from_task_to_task(
    tenant_a, tenant_b, public_tenant, tmp_path
):
    """Celery's Django fixup would open a new PostgreSQL session for every task; with
    CELERY_DB_REUSE_MAX and core.celery's close_old_connections, CONN_MAX_AGE decides."""

    def dispatch_and_wait() -> None:
        for task_id in tasks.purge_dispatch.delay().get(timeout=90).values():
            AsyncResult(task_id, app=app).get(timeout=90)

    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        worker_started = cursor.fetchone()[0]

    def worker_sessions() -> set[tuple[int, object]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid, backend_start FROM pg_stat_activity WHERE datname = "
                "current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                " AND backend_start > %s",
                [worker_started],
            )
            return set(cursor.fetchall())

    with running_worker(tmp_path / "worker.log", concurrency=1, DB_CONN_MAX_AGE="60") as log:
        try:
            dispatch_and_wait()
            first = worker_sessions()
            dispatch_and_wait()
            dispatch_and_wait()
            second = worker_sessions()
        except Exception:
            print(log.read_text())
            raise
    assert first, "the worker closed its session after the tasks"
    assert second == first  # 3 dispatches x 4 tasks, and still the same session(s)


# --- (b) the beat schedule -------------------------------------------------------------------


def test_beat_schedule_runs_the_dispatcher_at_the_configured_interval():
    entry = app.conf.beat_schedule["purge-expired-tokens"]
    assert entry["task"] == "authapi.tasks.purge_dispatch" == tasks.purge_dispatch.name
    assert entry["schedule"] == float(settings.PURGE_INTERVAL_SECONDS)
    assert tasks.purge_dispatch.name in app.tasks
    assert tasks.purge_schema.name in app.tasks


def test_beat_interval_comes_from_the_environment():
    code = (
        "import django; django.setup(); from core.celery import app; "
        "e = app.conf.beat_schedule['purge-expired-tokens']; print(e['task'], e['schedule'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=subprocess_env(PURGE_INTERVAL_SECONDS="120"),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["authapi.tasks.purge_dispatch", "120.0"]


def test_purge_task_declares_retries_and_time_limits():
    task = tasks.purge_schema
    assert OperationalError in task.autoretry_for
    assert task.max_retries and task.retry_backoff
    assert task.soft_time_limit and task.time_limit and task.soft_time_limit < task.time_limit


# --- (c) a failing schema is retried and does not stop the others ----------------------------


@pytest.mark.django_db
def test_failing_schema_is_retried_and_the_others_are_purged(
    tenant_a, tenant_b, public_tenant, eager_celery, monkeypatch
):
    for schema in ("public", tenant_a.schema_name, tenant_b.schema_name):
        seed(schema, expired=6, live=2)
    real = purge.tokens_purge_expired
    calls: list[str] = []

    def flaky(*, schema_name: str, **kwargs):
        calls.append(schema_name)
        if schema_name == tenant_a.schema_name and calls.count(schema_name) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(schema_name=schema_name, **kwargs)

    monkeypatch.setattr(purge, "tokens_purge_expired", flaky)
    dispatched = tasks.purge_dispatch.apply().get()

    assert set(dispatched) == {"public", tenant_a.schema_name, tenant_b.schema_name}
    assert calls == ["public", tenant_a.schema_name, tenant_a.schema_name, tenant_b.schema_name]
    for schema in ("public", tenant_a.schema_name, tenant_b.schema_name):
        assert counts(schema)["expired"] == 0
        assert counts(schema)["live"] == 2


@pytest.mark.django_db
def test_schema_that_keeps_failing_gives_up_after_max_retries_and_others_still_run(
    tenant_a, tenant_b, public_tenant, eager_celery, monkeypatch
):
    seed(tenant_b.schema_name, expired=4, live=1)
    real = purge.tokens_purge_expired
    calls: list[str] = []

    def broken_a(*, schema_name: str, **kwargs):
        calls.append(schema_name)
        if schema_name == tenant_a.schema_name:
            raise OperationalError("could not connect")
        return real(schema_name=schema_name, **kwargs)

    monkeypatch.setattr(purge, "tokens_purge_expired", broken_a)
    tasks.purge_dispatch.apply().get()

    assert calls.count(tenant_a.schema_name) == tasks.purge_schema.max_retries + 1
    assert calls[-1] == tenant_b.schema_name
    assert counts(tenant_b.schema_name)["expired"] == 0


@pytest.mark.django_db
def test_purge_of_an_unknown_schema_is_skipped_not_retried(eager_celery):
    result = tasks.purge_schema.apply(("no_such_schema",))
    assert result.get() == {
        "schema": "no_such_schema",
        "outstanding_deleted": 0,
        "blacklisted_deleted": 0,
    }


# --- (d) the management command --------------------------------------------------------------


@pytest.mark.django_db
def test_command_purges_every_schema_with_progress_and_a_summary(tenant_a, tenant_b, public_tenant):
    seed(tenant_a.schema_name, expired=9, live=3)
    seed(tenant_b.schema_name, expired=3, live=1)
    out = io.StringIO()
    call_command("purge_expired_tokens", "--batch-size", "4", stdout=out)
    text = out.getvalue()
    assert tenant_a.schema_name in text and tenant_b.schema_name in text and "public" in text
    assert "9/9" in text and "3/3" in text
    assert "purged 12 expired outstanding and 4 blacklisted tokens in 3 schema(s)" in text
    assert counts(tenant_a.schema_name) == {
        "expired": 0,
        "live": 3,
        "blacklisted_live": 1,
        "blacklisted": 1,
    }


@pytest.mark.django_db
def test_command_with_schema_purges_only_that_schema(tenant_a, tenant_b):
    seed(tenant_a.schema_name, expired=5, live=1)
    seed(tenant_b.schema_name, expired=5, live=1)
    out = io.StringIO()
    call_command("purge_expired_tokens", "--schema", tenant_b.schema_name, stdout=out)
    assert "purged 5 expired outstanding and 2 blacklisted tokens in 1 schema(s)" in out.getvalue()
    assert counts(tenant_b.schema_name)["expired"] == 0
    assert counts(tenant_a.schema_name)["expired"] == 5


@pytest.mark.django_db
def test_command_with_unknown_schema_is_an_error():
    with pytest.raises(CommandError, match="unknown schema 'nope'"):
        call_command("purge_expired_tokens", "--schema", "nope", stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_command_with_unknown_schema_exits_1_with_one_line(public_tenant):
    result = subprocess.run(
        [sys.executable, "manage.py", "purge_expired_tokens", "--schema", "nope"],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "CommandError: unknown schema 'nope': not public and not an active client's schema"
    ]


# --- (e) batching, isolation, concurrency ----------------------------------------------------


@pytest.mark.django_db
def test_batches_delete_every_expired_row_and_no_live_one(tenant_a, tenant_b):
    seed(tenant_a.schema_name, expired=35, live=8)
    seed(tenant_b.schema_name, expired=5, live=2)
    batches: list[tuple[int, int]] = []

    result = purge.tokens_purge_expired(
        schema_name=tenant_a.schema_name,
        batch_size=10,
        progress=lambda outstanding, blacklisted: batches.append((outstanding, blacklisted)),
    )

    assert result == purge.PurgeResult(tenant_a.schema_name, 35, 12)
    assert [b[0] for b in batches] == [10, 10, 10, 5]
    assert sum(b[1] for b in batches) == 12
    assert counts(tenant_a.schema_name) == {
        "expired": 0,
        "live": 8,
        "blacklisted_live": live_blacklist_count(35, 8),
        "blacklisted": live_blacklist_count(35, 8),
    }
    assert counts(tenant_b.schema_name)["expired"] == 5  # another schema is never touched


@pytest.mark.django_db
def test_now_is_fixed_at_the_start_and_tokens_expiring_later_stay(tenant_a):
    seed(tenant_a.schema_name, expired=4, live=0)
    earlier = timezone.now() - timedelta(days=1)
    result = purge.tokens_purge_expired(schema_name=tenant_a.schema_name, now=earlier)
    assert result.outstanding_deleted == 0
    assert counts(tenant_a.schema_name)["expired"] == 4


@pytest.mark.django_db
def test_an_exact_multiple_of_the_batch_size_takes_no_extra_empty_batch(tenant_a):
    seed(tenant_a.schema_name, expired=20, live=3)
    batches: list[int] = []
    result = purge.tokens_purge_expired(
        schema_name=tenant_a.schema_name,
        batch_size=10,
        progress=lambda outstanding, _: batches.append(outstanding),
    )
    assert batches == [10, 10]
    assert result.outstanding_deleted == 20
    assert counts(tenant_a.schema_name)["live"] == 3


@pytest.mark.django_db
def test_batches_stay_bounded_when_many_tokens_expire_at_the_same_instant(tenant_a):
    """A batch is a range on (expires_at, id): ties on expires_at are split by id, so a batch
    never exceeds batch_size and every tied token is still purged; a token expiring exactly at
    `now` has not expired and stays."""
    now = timezone.now()
    same = now - timedelta(minutes=5)
    with schema_context(tenant_a.schema_name):
        made = OutstandingToken.objects.bulk_create(
            [
                *(
                    OutstandingToken(jti=uuid.uuid4().hex, token="tie", expires_at=same)
                    for _ in range(10)
                ),
                *(
                    OutstandingToken(
                        jti=uuid.uuid4().hex,
                        token="older",
                        expires_at=same - timedelta(seconds=i + 1),
                    )
                    for i in range(3)
                ),
                OutstandingToken(jti=uuid.uuid4().hex, token="at-now", expires_at=now),
            ]
        )
        BlacklistedToken.objects.bulk_create(
            BlacklistedToken(token=t) for t in [*made[:13:2], made[13]]
        )
    batches: list[int] = []

    result = purge.tokens_purge_expired(
        schema_name=tenant_a.schema_name,
        batch_size=4,
        now=now,
        progress=lambda outstanding, _: batches.append(outstanding),
    )

    assert batches == [4, 4, 4, 1]
    assert (result.outstanding_deleted, result.blacklisted_deleted) == (13, 7)
    with schema_context(tenant_a.schema_name):
        assert list(OutstandingToken.objects.values_list("token", flat=True)) == ["at-now"]
        assert BlacklistedToken.objects.get().token.token == "at-now"


@pytest.mark.django_db
def test_schemas_to_purge_is_public_then_active_clients(tenant_a, tenant_b):
    assert purge.schemas_to_purge()[:1] == ["public"]
    assert {tenant_a.schema_name, tenant_b.schema_name} <= set(purge.schemas_to_purge())
    tenant_b.is_active = False
    tenant_b.save(update_fields=["is_active"])
    assert tenant_b.schema_name not in purge.schemas_to_purge()
    with pytest.raises(purge.UnknownSchemaError):
        purge.tokens_purge_expired(schema_name=tenant_b.schema_name)


@pytest.mark.django_db
def test_expiry_index_exists_in_every_schema(tenant_a, tenant_b):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT schemaname FROM pg_indexes WHERE tablename = 'token_blacklist_outstandingtoken'"
            " AND indexname = 'token_blacklist_outstandingtoken_expires_at_idx'"
        )
        schemas = {row[0] for row in cursor.fetchall()}
    assert {"public", tenant_a.schema_name, tenant_b.schema_name} <= schemas


def _blacklist_fk(schema: str) -> tuple[str, bool, bool]:
    """(on-delete action, deferrable, initially deferred) of the blacklist -> token key."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.confdeltype, c.condeferrable, c.condeferred FROM pg_constraint c "
            "WHERE c.contype = 'f' AND c.conrelid = %s::regclass AND c.confrelid = %s::regclass",
            [
                f"{schema}.token_blacklist_blacklistedtoken",
                f"{schema}.token_blacklist_outstandingtoken",
            ],
        )
        return cursor.fetchone()


@pytest.mark.django_db
def test_blacklist_key_cascades_and_stays_deferred_in_every_schema(tenant_a, tenant_b):
    for schema in ("public", tenant_a.schema_name, tenant_b.schema_name):
        assert _blacklist_fk(schema) == ("c", True, True), schema


@pytest.mark.django_db
def test_deleting_a_token_outside_the_orm_takes_its_blacklist_row_only(tenant_a, tenant_b):
    seed(tenant_a.schema_name, expired=3, live=0, blacklist_every=1)
    seed(tenant_b.schema_name, expired=3, live=0, blacklist_every=1)
    with schema_context(tenant_a.schema_name):
        token = OutstandingToken.objects.order_by("id").first()
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM token_blacklist_outstandingtoken WHERE id = %s", [token.id])
        assert not BlacklistedToken.objects.filter(token_id=token.id).exists()
        assert BlacklistedToken.objects.count() == 2
    assert counts(tenant_b.schema_name)["blacklisted"] == 3


@pytest.mark.django_db
def test_the_cascade_migration_reverses_to_no_action(tenant_a):
    from importlib import import_module

    migration = import_module("authapi.migrations.0003_blacklist_fk_on_delete_cascade")
    with schema_context(tenant_a.schema_name), connection.cursor() as cursor:
        cursor.execute(migration.Migration.operations[0].reverse_sql)
        assert _blacklist_fk(tenant_a.schema_name) == ("a", True, True)
        cursor.execute(migration.Migration.operations[0].sql)
    assert _blacklist_fk(tenant_a.schema_name) == ("c", True, True)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_purges_of_one_schema_are_harmless(tenant_a, clean_tenant_tables):
    seed(tenant_a.schema_name, expired=300, live=20)
    results: list[purge.PurgeResult] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        try:
            start.wait()
            results.append(
                purge.tokens_purge_expired(schema_name=tenant_a.schema_name, batch_size=7)
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(r.outstanding_deleted for r in results) == 300
    assert sum(r.blacklisted_deleted for r in results) == 100
    left = counts(tenant_a.schema_name)
    assert left["expired"] == 0 and left["live"] == 20


@pytest.mark.django_db(transaction=True)
def test_a_purge_waits_for_the_schema_lock_and_other_schemas_do_not(
    tenant_a, tenant_b, clean_tenant_tables, monkeypatch
):
    """What makes two purges of one schema take turns: while another session holds tenant A's
    purge lock, A's purge deletes nothing and gives up after LOCK_TIMEOUT with a retryable
    error; B's purge is not held up; once the lock is free, A's purge finishes."""
    import psycopg

    seed(tenant_a.schema_name, expired=12, live=3)
    seed(tenant_b.schema_name, expired=12, live=3)
    monkeypatch.setattr(purge, "LOCK_TIMEOUT", "300ms")
    with psycopg.connect(test_database_url()) as other:
        other.execute(f"SET search_path TO {tenant_a.schema_name}")
        other.execute(purge._LOCK_SCHEMA_SQL)  # held until `other` commits

        with pytest.raises(OperationalError, match="lock timeout"):
            purge.tokens_purge_expired(schema_name=tenant_a.schema_name, batch_size=5)
        assert counts(tenant_a.schema_name)["expired"] == 12
        assert (
            purge.tokens_purge_expired(schema_name=tenant_b.schema_name).outstanding_deleted == 12
        )
        other.commit()

    result = purge.tokens_purge_expired(schema_name=tenant_a.schema_name, batch_size=5)
    assert (result.outstanding_deleted, result.blacklisted_deleted) == (12, 4)
    assert counts(tenant_a.schema_name) == {
        "expired": 0,
        "live": 3,
        "blacklisted_live": live_blacklist_count(12, 3),
        "blacklisted": live_blacklist_count(12, 3),
    }
