"""Onboarding copies the template schema: the copy equals a migrated schema, the template is
kept in step with the migrations, and it is never a tenant."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django_tenants.utils import schema_context, schema_exists

from authapi.models import Role, User
from authapi.purge import schemas_to_purge
from core.errors import InvalidInput
from onboarding.services import client_onboard
from tenants import selectors, template
from tenants.models import Client, Domain
from tenants.schema_clone import schema_clone
from tests.conftest import ADMIN_PASSWORD
from tests.tenants.schema_shape import assert_same_shape, fetch, schema_shape

pytestmark = pytest.mark.django_db

TEMPLATE = template.template_schema_name()
Q_TEMPLATE = connection.ops.quote_name(TEMPLATE)
EXPIRES_INDEX = "token_blacklist_outstandingtoken_expires_at_idx"


@pytest.fixture(autouse=True)
def _current_template() -> None:
    """Each test starts from a current template (tests change it only inside their transaction)."""
    assert template.template_ensure() == "current"


def onboard(schema: str) -> Client:
    return client_onboard(
        name=schema.title(),
        schema_name=schema,
        domain=f"{schema.replace('_', '-')}.localhost",
        admin_username="owner",
        admin_email=f"owner@{schema}.test",
        admin_password=ADMIN_PASSWORD,
    )


def migrated_schema(schema: str) -> str:
    """A schema built the django-tenants default way: every migration replayed."""
    Client(schema_name=schema, name=schema).create_schema(check_if_exists=False, verbosity=0)
    return schema


def migrated_onboarding(schema: str) -> str:
    """What onboarding made before the template: a migrated schema and its first admin."""
    from authapi.services import user_create

    migrated_schema(schema)
    with schema_context(schema):
        user_create(username="owner", email="o@x.test", password=ADMIN_PASSWORD, role="admin")
    return schema


def raw_clone(target: str) -> str:
    with transaction.atomic():
        template.template_lock()
        schema_clone(source=TEMPLATE, target=target, description=template.template_ready())
    return target


def template_reason() -> str:
    with transaction.atomic():
        template.template_lock()
        return template.template_check().reason


def unapplied(schema: str) -> list:
    with schema_context(schema):
        connection.set_schema(schema, include_public=False)
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    connection.set_schema_to_public()
    return plan


# --- the copy equals a migrated schema --------------------------------------------------------


def test_a_copy_of_the_template_equals_a_schema_built_by_migrations(public_tenant):
    assert_same_shape(raw_clone("ref_cloned"), migrated_schema("ref_migrated"))


def test_an_onboarded_client_equals_one_onboarded_by_replaying_migrations(public_tenant):
    onboard("cloned_co")
    assert_same_shape("cloned_co", migrated_onboarding("migrated_co"))


def _pg_dump() -> str | None:
    """pg_dump of the server's major version (the system's may be older than the server)."""
    try:
        import pgserver
    except ImportError:
        return None
    binary = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"
    if not binary.exists():
        return None
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    major = re.search(r"(\d+)\.\d+", version)
    connection.ensure_connection()
    return str(binary) if major and int(major[1]) == connection.pg_version // 10000 else None


def _dump(binary: str, schema: str) -> str:
    connection.ensure_connection()
    info = connection.connection.info
    env = {**os.environ, "PGPASSWORD": info.password or ""}
    params = info.get_parameters()
    argv = [binary, "--schema-only", f"--schema={schema}", f"--dbname={params['dbname']}"]
    flags = {"host": "--host", "port": "--port", "user": "--username"}
    argv += [f"{flag}={params[key]}" for key, flag in flags.items() if params.get(key)]
    dump = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    return re.sub(rf"\b{schema}\b", "SELF", dump)


@pytest.mark.django_db(transaction=True)
def test_pg_dump_prints_an_onboarded_client_as_it_prints_a_migrated_one(public_tenant):
    binary = _pg_dump()
    # pgserver (the `embedded` extra, always installed by `make test`) ships a pg_dump of the
    # server's version; with an external server of another version this is a failure to fix in
    # the environment, never a silent skip.
    assert binary is not None, "needs a pg_dump of the server's major version (pgserver's)"
    try:
        onboard("dump_cloned")
        migrated_onboarding("dump_migrated")
        cloned, migrated = _dump(binary, "dump_cloned"), _dump(binary, "dump_migrated")
        assert "CREATE TABLE SELF.authapi_user" in cloned
        assert TEMPLATE not in cloned
        assert cloned == migrated
    finally:
        connection.set_schema_to_public()
        Client.objects.filter(schema_name="dump_cloned").delete()
        fetch("DROP SCHEMA IF EXISTS dump_cloned CASCADE")
        fetch("DROP SCHEMA IF EXISTS dump_migrated CASCADE")


def test_the_copy_points_only_at_its_own_tables_and_sequences(public_tenant):
    raw_clone("ref_cloned")
    shape = schema_shape("ref_cloned", data=False)
    foreign_keys = [row for row in shape["constraints"] if row[2] == "f"]
    assert foreign_keys and all(row[7] == "SELF" for row in foreign_keys)
    assert all("REFERENCES" not in row[3] or TEMPLATE not in row[3] for row in foreign_keys)
    assert shape["sequence_owners"] and all(row[4] == "SELF" for row in shape["sequence_owners"])
    assert all(TEMPLATE not in str(row) for rows in shape.values() for row in rows)
    identity_columns = fetch(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'ref_cloned' AND is_identity = 'YES'"
    )
    assert len(identity_columns) >= 10
    for table, column in identity_columns:
        (sequence,) = fetch(
            "SELECT pg_get_serial_sequence(%s, %s)", [f"ref_cloned.{table}", column]
        )[0]
        assert sequence.startswith("ref_cloned.")


def test_sequences_of_a_copy_are_its_own_and_start_where_a_migrated_schema_starts(public_tenant):
    client = onboard("seq_one")
    onboard("seq_two")
    with schema_context("seq_one"):
        assert User.objects.get(username="owner").id == 1  # fresh, as after migrations
        user = User.objects.create(username="second", email="s@x.test")
        assert user.id == 2
    with schema_context("seq_two"):
        assert User.objects.get(username="owner").id == 1  # not advanced by seq_one
    assert fetch(f"SELECT last_value, is_called FROM {Q_TEMPLATE}.authapi_user_id_seq") == [
        (1, False)
    ]
    # Content types were copied with their ids; their sequence continues after them.
    with schema_context(client.schema_name):
        from django.contrib.contenttypes.models import ContentType

        top = max(ContentType.objects.values_list("id", flat=True))
        ContentType.objects.clear_cache()
        assert ContentType.objects.create(app_label="x", model="y").id == top + 1


def test_a_copy_records_every_migration_so_migrate_schemas_works_on_it(public_tenant):
    onboard("later")
    assert unapplied("later") == []
    call_command("migrate_schemas", schema_name="later", verbosity=0)  # nothing to do, no error
    # Unapply and reapply migrations on the copy: names and sequences must be the migrations'.
    call_command("migrate_schemas", "token_blacklist", "zero", schema_name="later", verbosity=0)
    assert not fetch(
        "SELECT 1 FROM pg_tables WHERE schemaname = 'later' AND tablename LIKE 'token_blacklist%%'"
    )
    call_command("migrate_schemas", schema_name="later", verbosity=0)
    assert unapplied("later") == []
    migrated_schema("migrated_later")
    shape_later, shape_migrated = schema_shape("later"), schema_shape("migrated_later")
    for key in ("tables", "columns", "constraints", "indexes", "sequence_owners", "triggers"):
        assert shape_later[key] == shape_migrated[key], key


# --- the template is never a tenant and holds no users ----------------------------------------


def test_the_template_is_never_listed_or_resolved_as_a_tenant(tenant_a, tenant_b):
    assert schema_exists(TEMPLATE)
    assert not Client.objects.filter(schema_name=TEMPLATE).exists()
    assert not Domain.objects.filter(tenant__schema_name=TEMPLATE).exists()
    active = set(
        selectors.client_list_active(include_public=True).values_list("schema_name", flat=True)
    )
    assert TEMPLATE not in active
    assert TEMPLATE not in schemas_to_purge()
    assert selectors.client_get_by_host(host=f"{TEMPLATE}.localhost") is None


def test_no_client_row_can_name_the_template(public_tenant):
    with pytest.raises(InvalidInput, match="invalid schema name"):
        onboard(TEMPLATE)
    with pytest.raises(IntegrityError), transaction.atomic():
        Client.objects.create(schema_name=TEMPLATE, name="sneaky")


def test_the_template_holds_no_users_sessions_or_tokens_after_onboarding(public_tenant):
    with schema_context(onboard("busy").schema_name):
        assert User.objects.filter(role=Role.ADMIN).count() == 1
    for table in (
        "authapi_user",
        "authapi_user_groups",
        "authapi_user_user_permissions",
        "auth_group",
        "django_session",
        "django_admin_log",
        "token_blacklist_outstandingtoken",
        "token_blacklist_blacklistedtoken",
    ):
        assert fetch(f"SELECT count(*) FROM {Q_TEMPLATE}.{table}") == [(0,)], table
    assert template_reason() == "current"


# --- the template is kept in step with the migrations ------------------------------------------


def _assert_onboarding_repairs_the_template(schema: str, reason: str) -> None:
    assert template_reason() == reason
    onboard(schema)
    assert template_reason() == "current"
    assert unapplied(schema) == []
    assert_same_shape(schema, migrated_onboarding(f"{schema}_ref"))
    assert_same_shape(raw_clone(f"{schema}_again"), migrated_schema(f"{schema}_ref2"))


def test_a_template_missing_a_migration_row_is_rebuilt_before_the_copy(public_tenant):
    fetch(
        f"DELETE FROM {Q_TEMPLATE}.django_migrations WHERE app = 'authapi' AND name LIKE '0002%%'"
    )
    _assert_onboarding_repairs_the_template("after_row", "rows modified")


def test_a_template_missing_an_index_is_rebuilt_before_the_copy(public_tenant):
    fetch(f"DROP INDEX {Q_TEMPLATE}.{EXPIRES_INDEX}")
    _assert_onboarding_repairs_the_template("after_index", "structure modified")
    assert fetch(
        "SELECT 1 FROM pg_indexes WHERE schemaname = 'after_index' AND indexname = %s",
        [EXPIRES_INDEX],
    )


def test_a_template_with_a_user_row_is_rebuilt_before_the_copy(public_tenant):
    fetch(
        # An explicit id: a sequence is not transactional, and the test's rollback must leave the
        # template as it was.
        f"INSERT INTO {Q_TEMPLATE}.authapi_user (id, password, is_superuser, username, "
        "first_name, last_name, email, is_staff, is_active, date_joined, role) "
        "VALUES (7, 'x', true, 'intruder', '', '', 'i@x.test', true, true, now(), 'admin')"
    )
    _assert_onboarding_repairs_the_template("after_user", "rows modified")
    with schema_context("after_user"):
        assert list(User.objects.values_list("username", flat=True)) == ["owner"]


def test_a_template_built_before_a_new_migration_is_rebuilt_before_the_copy(public_tenant):
    """As after a deployment that added authapi.0002 when nothing ran migrate_schemas since: the
    template is at the older migration and marked as built by the older code."""
    call_command("migrate_schemas", "authapi", "0001", schema_name=TEMPLATE, verbosity=0)
    connection.set_schema_to_public()
    assert not fetch(
        "SELECT 1 FROM pg_indexes WHERE schemaname = %s AND indexname = %s",
        [TEMPLATE, EXPIRES_INDEX],
    )
    description = template.describe_schema(TEMPLATE)
    marker = template._marker(description) | {"code": "fingerprint of the code before 0002"}
    fetch(f"COMMENT ON SCHEMA {Q_TEMPLATE} IS '{json.dumps(marker)}'")

    _assert_onboarding_repairs_the_template("after_deploy", "migrations changed")
    assert fetch(
        "SELECT 1 FROM pg_indexes WHERE schemaname = 'after_deploy' AND indexname = %s",
        [EXPIRES_INDEX],
    )


def test_a_dropped_template_is_built_again_by_the_next_onboarding(public_tenant):
    fetch(f"DROP SCHEMA {Q_TEMPLATE} CASCADE")
    _assert_onboarding_repairs_the_template("after_drop", "missing")


def test_a_new_code_fingerprint_means_a_rebuild(public_tenant, monkeypatch):
    monkeypatch.setattr(template, "code_fingerprint", lambda: "a new migration file")
    assert template_reason() == "migrations changed"
    assert template.template_ensure() == "rebuilt (migrations changed)"
    assert template_reason() == "current"


def test_migrate_schemas_rebuilds_a_stale_template_after_the_tenant_pass(tenant_a):
    fetch(f"DROP INDEX {Q_TEMPLATE}.{EXPIRES_INDEX}")
    call_command("migrate_schemas", schema_name=tenant_a.schema_name, verbosity=0)
    assert template_reason() == "structure modified"  # one schema: not the tenant pass
    call_command("migrate_schemas", tenant=True, verbosity=0)
    assert template_reason() == "current"


def test_tenant_template_command_checks_and_rebuilds(public_tenant, capsys):
    call_command("tenant_template", "--check")
    assert capsys.readouterr().out.strip() == f"{TEMPLATE}: current"
    fetch(f"DROP INDEX {Q_TEMPLATE}.{EXPIRES_INDEX}")
    with pytest.raises(SystemExit) as exit_:
        call_command("tenant_template", "--check")
    assert exit_.value.code == 1
    call_command("tenant_template")
    assert "rebuilt (structure modified)" in capsys.readouterr().out
    call_command("tenant_template", "--rebuild")
    assert "rebuilt (forced)" in capsys.readouterr().out
    assert template_reason() == "current"


# --- all or nothing ---------------------------------------------------------------------------


def test_a_failed_onboarding_leaves_no_schema_and_the_template_as_it_was(
    public_tenant, monkeypatch
):
    import authapi.services

    fetch(f"DROP INDEX {Q_TEMPLATE}.{EXPIRES_INDEX}")  # so that onboarding rebuilds it first

    def explode(**_):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(authapi.services, "user_create", explode)
    with pytest.raises(RuntimeError):
        onboard("doomed")
    assert not schema_exists("doomed")
    assert not Client.objects.filter(schema_name="doomed").exists()
    assert template_reason() == "structure modified"  # the rebuild was rolled back too


def test_a_template_a_copy_cannot_reproduce_falls_back_to_migrations(public_tenant, monkeypatch):
    import onboarding.services
    from tenants.schema_clone import CloneUnsupportedError

    def refuse(**_):
        raise CloneUnsupportedError("view v")

    monkeypatch.setattr(onboarding.services, "schema_clone", refuse)
    onboard("fallback")
    assert unapplied("fallback") == []
    assert_same_shape("fallback", migrated_onboarding("fallback_ref"))


@pytest.mark.django_db(transaction=True)
def test_concurrent_onboardings_rebuild_a_stale_template_once_and_both_get_it(
    public_tenant, caplog
):
    import threading

    from tenants.services import client_delete

    fetch(f"DROP INDEX {Q_TEMPLATE}.{EXPIRES_INDEX}")  # committed: every connection sees it
    errors: list[BaseException] = []

    def run(schema: str) -> None:
        try:
            onboard(schema)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("racer_one", "racer_two")]
    try:
        with caplog.at_level("INFO", logger="tenants.template"):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        assert errors == []
        assert [r.message for r in caplog.records].count(
            f"event=tenant_template_rebuild schema={TEMPLATE} reason='structure modified'"
        ) == 1
        for schema in ("racer_one", "racer_two"):
            assert fetch(
                "SELECT 1 FROM pg_indexes WHERE schemaname = %s AND indexname = %s",
                [schema, EXPIRES_INDEX],
            )
        assert template_reason() == "current"
    finally:
        for client in Client.objects.filter(schema_name__in=["racer_one", "racer_two"]):
            client_delete(client=client)
        template.template_ensure()
