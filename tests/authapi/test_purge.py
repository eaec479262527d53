"""Purge of expired tokens across schemas: a real Celery worker on the real Redis, the beat
entry, retries and the management command (batches within a schema: test_purge_batches.py)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from celery.result import AsyncResult
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection

from authapi import purge, tasks
from core.celery import app
from tests.authapi.purge_support import (
    counts,
    live_blacklist_count,
    running_worker,
    seed,
    subprocess_env,
)

ROOT = Path(__file__).resolve().parents[2]


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
            "sessions_deleted": 0,
            "api_tokens_deleted": 0,
            "signing_keys_retired": 0,
            "audit_events_deleted": 0,
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
        "sessions_deleted": 0,
        "api_tokens_deleted": 0,
        "signing_keys_retired": 0,
        "audit_events_deleted": 0,
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
