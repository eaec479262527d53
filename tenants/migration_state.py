"""Which tenant schemas are behind the migrations: one query over all of them.

`migrate_schemas` (through tenants.executors) asks this before its tenant pass and hands the
executor only the schemas that are behind, so a deployment with nothing to apply costs one
query instead of a `migrate` per schema (about 0.25 s each: introspection, the post_migrate
handlers and a reconnect, bench/README.md "Onboarding at scale").

A schema is current when its `django_migrations` holds every migration of the project's
migration graph. In a tenant schema `migrate` records every app's migrations, the shared-only
apps' too (the router turns their operations into no-ops, the rows are written all the same),
so the graph's nodes are exactly what a fully migrated schema holds. A squashed migration is a
node of its own, recorded by `migrate` once all it replaces is applied: a schema that has the
replaced ones but not the squash is treated as behind and migrated once, which records it.
Rows of migrations that no longer exist on disk do not matter (`--prune` removes them; it is
never filtered).

The query reads every schema's own table, the only source that a hand edit or a plain `migrate`
cannot leave stale. A single `SELECT` over 10,000 tables (a `UNION ALL`) would hold a lock on
each table and index until it ends: 20,000 entries in PostgreSQL's shared lock table, about
three times its default size (`max_locks_per_transaction` 64 x `max_connections` 100), so it
fails with "out of shared memory", and its text alone is a megabyte or two. Instead one call of
a temporary PL/pgSQL function walks the schemas: each schema's check runs in a subtransaction
that is then rolled back on purpose, which releases its locks (the function's variables keep the
answer), so at most one schema's locks are held at any time. The function is created in
`pg_temp`, so it is gone when the session ends and no schema carries it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from django.db import connection

__all__ = ["required_migrations", "schemas_behind"]

# The check of one schema ends by raising SQLSTATE TA001 (our own code) on purpose: that rolls
# its subtransaction back, and with it the locks it took.
_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION pg_temp.tenantauth_schemas_behind(schemas text[], required text[])
RETURNS SETOF text LANGUAGE plpgsql AS $fn$
DECLARE
    schema_name text;
    present bigint;
BEGIN
    FOREACH schema_name IN ARRAY schemas LOOP
        present := -1;
        BEGIN
            EXECUTE format(
                'SELECT count(DISTINCT app || ''.'' || name) FROM %I.django_migrations '
                'WHERE app || ''.'' || name = ANY ($1)',
                schema_name
            ) INTO present USING required;
            RAISE SQLSTATE 'TA001';
        EXCEPTION
            WHEN SQLSTATE 'TA001' THEN NULL;
            WHEN undefined_table OR invalid_schema_name THEN present := -1;
        END;
        IF present <> cardinality(required) THEN
            RETURN NEXT schema_name;
        END IF;
    END LOOP;
END
$fn$
"""


@functools.cache
def required_migrations() -> tuple[str, ...]:
    """`app.name` of every migration of the graph: what a fully migrated schema has recorded.
    Computed once per process (the code does not change under a running process)."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    return tuple(sorted(f"{app}.{name}" for app, name in loader.graph.nodes))


def schemas_behind(schema_names: Iterable[str]) -> list[str]:
    """The schemas among `schema_names` (in their order) that miss a migration of the graph,
    have no `django_migrations` table, or do not exist. One query, whatever their number;
    runs on the default connection, in whatever schema it is set to."""
    names = list(schema_names)
    if not names:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_FUNCTION_SQL)
        cursor.execute(
            "SELECT * FROM pg_temp.tenantauth_schemas_behind(%s::text[], %s::text[])",
            [names, list(required_migrations())],
        )
        behind = {row[0] for row in cursor.fetchall()}
    return [name for name in names if name in behind]
