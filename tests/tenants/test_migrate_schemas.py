"""`migrate_schemas` skips the tenant schemas already at the latest migrations, found in one
query (tenants.migration_state through tenants.executors), and migrates the others as before.

What the executor is given is read from django-tenants' own `schema_pre_migration` signal,
sent once for every schema it runs `migrate` in.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.management import call_command, get_commands
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.signals import schema_pre_migration

from tenants import template
from tenants.migration_state import required_migrations, schemas_behind
from tests.tenants.schema_shape import fetch
from tests.tenants.test_template import unapplied

pytestmark = pytest.mark.django_db

TEMPLATE = template.template_schema_name()
EXPIRES_INDEX = "token_blacklist_outstandingtoken_expires_at_idx"
LATEST = ("authapi", "0007_api_token")


@pytest.fixture
def migrated() -> Iterator[list[str]]:
    """The schemas the executor runs `migrate` in, in order."""
    schemas: list[str] = []

    def record(sender: object, schema_name: str, **kwargs: object) -> None:
        schemas.append(schema_name)

    schema_pre_migration.connect(record, weak=False)
    yield schemas
    schema_pre_migration.disconnect(record)


def undo_latest(schema: str) -> None:
    """Put `schema` back at the state before authapi's latest migration (0007, API keys), the
    way a deployment finds it when that migration is new: its table gone, its row gone."""
    call_command("migrate_schemas", "authapi", "0006_session", schema_name=schema, verbosity=0)
    connection.set_schema_to_public()


def has_latest(schema: str) -> bool:
    table = fetch(
        "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'authapi_apitoken'",
        [schema],
    )
    row = fetch(
        f'SELECT 1 FROM "{schema}".django_migrations WHERE app = %s AND name = %s',
        list(LATEST),
    )
    return bool(table) and bool(row)


def test_our_migrate_schemas_is_the_one_manage_py_runs():
    assert get_commands()["migrate_schemas"] == "tenants"


def test_a_run_with_nothing_to_apply_migrates_no_tenant_schema(tenant_a, tenant_b, migrated):
    assert schemas_behind([tenant_a.schema_name, tenant_b.schema_name]) == []
    call_command("migrate_schemas", tenant=True, executor="standard", verbosity=0)
    assert migrated == []


def test_all_schemas_runs_migrate_in_every_tenant_schema(tenant_a, tenant_b, migrated):
    call_command("migrate_schemas", tenant=True, executor="standard", all_schemas=True, verbosity=0)
    assert {tenant_a.schema_name, tenant_b.schema_name} <= set(migrated)


def test_a_schema_missing_a_migration_is_the_only_one_migrated(tenant_a, tenant_b, migrated):
    undo_latest(tenant_b.schema_name)
    assert not has_latest(tenant_b.schema_name)
    migrated.clear()
    assert schemas_behind([tenant_a.schema_name, tenant_b.schema_name]) == [tenant_b.schema_name]

    call_command("migrate_schemas", tenant=True, executor="standard", verbosity=0)

    assert migrated == [tenant_b.schema_name]
    assert has_latest(tenant_b.schema_name)
    assert unapplied(tenant_b.schema_name) == []


def test_a_schema_migrated_back_to_an_older_state_is_migrated_forward(tenant_a, tenant_b, migrated):
    call_command(
        "migrate_schemas", "authapi", "0001", schema_name=tenant_a.schema_name, verbosity=0
    )
    connection.set_schema_to_public()
    assert unapplied(tenant_a.schema_name) != []
    migrated.clear()

    call_command("migrate_schemas", tenant=True, executor="standard", verbosity=0)

    assert migrated == [tenant_a.schema_name]
    assert unapplied(tenant_a.schema_name) == []


def test_a_schema_named_with_schema_is_migrated_even_when_current(tenant_a, tenant_b, migrated):
    call_command("migrate_schemas", schema_name=tenant_a.schema_name, verbosity=0)
    assert migrated == [tenant_a.schema_name]

    undo_latest(tenant_b.schema_name)
    migrated.clear()
    call_command("migrate_schemas", schema_name=tenant_b.schema_name, verbosity=0)
    assert migrated == [tenant_b.schema_name]
    assert has_latest(tenant_b.schema_name)


def test_shared_migrates_the_public_schema_only(tenant_a, migrated):
    call_command("migrate_schemas", shared=True, verbosity=0)
    assert migrated == ["public"]


def test_check_fails_only_when_a_schema_is_behind(tenant_a, tenant_b):
    call_command("migrate_schemas", tenant=True, executor="standard", check_unapplied=True)
    undo_latest(tenant_a.schema_name)
    with pytest.raises(SystemExit):
        call_command(
            "migrate_schemas", tenant=True, executor="standard", check_unapplied=True, verbosity=0
        )


def test_the_template_is_refreshed_after_a_run_that_skipped_every_schema(
    tenant_a, tenant_b, migrated
):
    fetch(f'DROP INDEX "{TEMPLATE}".{EXPIRES_INDEX}')
    with transaction.atomic():
        template.template_lock()
        assert template.template_check().reason == "structure modified"

    call_command("migrate_schemas", tenant=True, executor="standard", verbosity=0)

    assert tenant_a.schema_name not in migrated and tenant_b.schema_name not in migrated
    with transaction.atomic():
        template.template_lock()
        assert template.template_check().reason == "current"


def test_the_check_is_one_query_whatever_the_number_of_schemas(tenant_a, tenant_b):
    schemas = [tenant_a.schema_name, tenant_b.schema_name, TEMPLATE]
    counts = []
    for names in (schemas[:1], schemas):
        with CaptureQueriesContext(connection) as queries:
            assert schemas_behind(names) == []
        reads = [q["sql"] for q in queries.captured_queries if "CREATE" not in q["sql"]]
        assert len(reads) == 1, reads
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]


def test_the_check_holds_no_lock_on_the_schemas_it_read(tenant_a, tenant_b):
    """Each schema's read is rolled back as soon as it is done, so 10,000 schemas never need
    10,000 table locks at once (PostgreSQL's shared lock table holds ~6,400 by default)."""
    schemas = [tenant_a.schema_name, tenant_b.schema_name, TEMPLATE]
    with transaction.atomic():
        assert schemas_behind(schemas) == []
        held = fetch(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE l.pid = pg_backend_pid() AND n.nspname = ANY(%s)",
            [schemas],
        )
        assert held == [(0,)]
        # Reading a table the ordinary way in the same transaction does hold its lock: the
        # query above would see it.
        fetch(f'SELECT count(*) FROM "{tenant_a.schema_name}".django_migrations')
        assert (
            fetch(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE l.pid = pg_backend_pid() AND n.nspname = ANY(%s)",
                [schemas],
            )[0][0]
            > 0
        )


def test_a_missing_schema_or_migrations_table_counts_as_behind(tenant_a):
    fetch('CREATE SCHEMA "empty_schema"')
    assert schemas_behind(["no_such_schema", tenant_a.schema_name, "empty_schema"]) == [
        "no_such_schema",
        "empty_schema",
    ]


def test_a_row_of_a_migration_no_longer_on_disk_does_not_make_a_schema_behind(tenant_a):
    fetch(
        f'INSERT INTO "{tenant_a.schema_name}".django_migrations (app, name, applied) '
        "VALUES ('authapi', '9999_removed_long_ago', now())"
    )
    assert schemas_behind([tenant_a.schema_name]) == []


def test_every_migration_of_the_graph_is_required():
    required = set(required_migrations())
    assert "authapi.0002_outstanding_expires_index" in required
    assert "contenttypes.0001_initial" in required
    # Shared-only apps are recorded in tenant schemas too (their operations are no-ops there).
    assert any(key.startswith("tenants.") for key in required)


def test_system_checks_run_once_per_command_not_once_per_schema(tenant_a, tenant_b, migrated):
    from django.core.checks import register
    from django.core.checks.registry import registry

    runs: list[int] = []

    def counting_check(**kwargs: object) -> list[object]:
        runs.append(1)
        return []

    register(counting_check)
    try:
        call_command(
            "migrate_schemas",
            tenant=True,
            executor="standard",
            all_schemas=True,
            skip_checks=False,  # call_command skips them by default; manage.py does not
            verbosity=0,
        )
    finally:
        registry.registered_checks.discard(counting_check)
    assert {tenant_a.schema_name, tenant_b.schema_name} <= set(migrated)
    assert runs == [1]
