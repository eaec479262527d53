"""core.hotpath.dbbackend.introspection: the table list found through pg_depend is exactly the
one Django's scan of all of pg_class finds, for every kind of relation and every schema."""

import pytest
from django.db import connection
from django_tenants.postgresql_backend.introspection import DatabaseSchemaIntrospection

from core.hotpath.dbbackend.introspection import TableListIntrospection

pytestmark = pytest.mark.django_db(transaction=True)

SCRATCH = "introspection_scratch"


@pytest.fixture
def scratch_schema():
    """A schema holding one relation of every kind Django lists, and some it does not."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE")
        cursor.execute(
            f"""
            CREATE SCHEMA {SCRATCH};
            CREATE TABLE {SCRATCH}.plain (id serial PRIMARY KEY, name text UNIQUE);
            COMMENT ON TABLE {SCRATCH}.plain IS 'a comment';
            CREATE VIEW {SCRATCH}.a_view AS SELECT id FROM {SCRATCH}.plain;
            CREATE MATERIALIZED VIEW {SCRATCH}.a_matview AS SELECT id FROM {SCRATCH}.plain;
            CREATE TABLE {SCRATCH}.parted (day date NOT NULL) PARTITION BY RANGE (day);
            CREATE TABLE {SCRATCH}.parted_2026 PARTITION OF {SCRATCH}.parted
                FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
            CREATE UNLOGGED TABLE {SCRATCH}.unlogged (id int);
            CREATE TABLE {SCRATCH}.moved (id int);
            CREATE SEQUENCE {SCRATCH}.lonely_seq;
            CREATE INDEX plain_name_idx ON {SCRATCH}.plain (lower(name));
            """
        )
    yield SCRATCH
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE")


def _lists(schema_name: str) -> tuple[list[tuple], list[tuple]]:
    connection.set_schema(schema_name)
    with connection.cursor() as cursor:
        ours = TableListIntrospection(connection).get_table_list(cursor)
        django = DatabaseSchemaIntrospection(connection).get_table_list(cursor)
    return sorted(map(tuple, ours)), sorted(map(tuple, django))


def test_the_backend_uses_it():
    assert isinstance(connection.introspection, TableListIntrospection)


def test_every_kind_of_relation_is_listed_as_django_lists_it(scratch_schema):
    ours, django = _lists(scratch_schema)
    assert ours == django
    assert ("plain", "t", "a comment") in ours
    assert {name for name, *_ in ours} == {
        "plain",
        "a_view",
        "a_matview",
        "parted",
        "parted_2026",
        "unlogged",
        "moved",
    }


def test_a_table_moved_in_from_another_schema_is_listed(scratch_schema, tenant_a):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE public.wanderer (id int)")
        cursor.execute(f"ALTER TABLE public.wanderer SET SCHEMA {scratch_schema}")
    ours, django = _lists(scratch_schema)
    assert ours == django
    assert "wanderer" in {name for name, *_ in ours}


def test_tenant_and_public_schemas_are_listed_as_django_lists_them(tenant_a, tenant_b):
    for schema_name in (tenant_a.schema_name, tenant_b.schema_name, "public"):
        ours, django = _lists(schema_name)
        assert ours == django, schema_name
        assert ("django_migrations", "t", None) in ours
    connection.set_schema_to_public()


def test_has_table_and_table_names_agree(tenant_a):
    from django.db.migrations.recorder import MigrationRecorder

    connection.set_tenant(tenant_a)
    assert MigrationRecorder(connection).has_table()
    with connection.cursor() as cursor:
        assert "authapi_apitoken" in connection.introspection.table_names(cursor)
    connection.set_schema_to_public()
