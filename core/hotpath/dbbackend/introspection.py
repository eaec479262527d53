"""django-tenants' introspection with a table list that does not read every schema's tables.

Django lists a schema's tables by scanning all of `pg_class` and calling
`pg_table_is_visible()` on every row: with 10,000 tenant schemas that is 900,000 rows and
0.3 to 0.5 s per call. `migrate` calls it four times per schema (MigrationRecorder.has_table), so
a real migration over 10,000 schemas spent 80 % of its time there and grew with the square of
the schema count (bench/README.md, "10,000 clients").

Here the candidates come from the schemas on the search path (django-tenants sets it to the one
schema being introspected): every table, view, materialized view and sequence records a
dependency on its schema in `pg_depend`, whose index finds them without a scan. A schema created
with the database (oid below FirstNormalObjectId: `public`, pinned before PostgreSQL 15, where
nothing records dependencies on it) is scanned as before. The final filter is Django's own, so
the answer is the same rows (tests/core/test_dbbackend.py compares them).
"""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql.introspection import TableInfo
from django_tenants.postgresql_backend.introspection import (
    DatabaseSchemaIntrospection,
    DatabaseSchemaIntrospectionSearchPathContext,
)

__all__ = ["TableListIntrospection"]

# The 16384 below is PostgreSQL's FirstNormalObjectId (src/include/access/transam.h).
_TABLE_LIST_SQL = """
WITH path AS (
    SELECT n.oid FROM pg_catalog.pg_namespace n
    WHERE n.nspname = ANY (pg_catalog.current_schemas(false))
        AND n.nspname NOT IN ('pg_catalog', 'pg_toast')
), candidates AS MATERIALIZED (
    SELECT d.objid AS oid
    FROM path JOIN pg_catalog.pg_depend d ON d.refobjid = path.oid
    WHERE d.refclassid = 'pg_catalog.pg_namespace'::regclass
        AND d.classid = 'pg_catalog.pg_class'::regclass
        AND d.objsubid = 0
    UNION
    SELECT c.oid
    FROM path JOIN pg_catalog.pg_class c ON c.relnamespace = path.oid
    WHERE path.oid < 16384
)
SELECT
    c.relname,
    CASE
        WHEN c.relispartition THEN 'p'
        WHEN c.relkind IN ('m', 'v') THEN 'v'
        ELSE 't'
    END,
    pg_catalog.obj_description(c.oid, 'pg_class')
FROM candidates JOIN pg_catalog.pg_class c ON c.oid = candidates.oid
WHERE c.relkind IN ('f', 'm', 'p', 'r', 'v')
    AND pg_catalog.pg_table_is_visible(c.oid)
"""


class TableListIntrospection(DatabaseSchemaIntrospection):
    def get_table_list(self, cursor: Any) -> list[TableInfo]:
        with DatabaseSchemaIntrospectionSearchPathContext(
            cursor=cursor, connection=self.connection
        ):
            cursor.execute(_TABLE_LIST_SQL)
            return [
                TableInfo(*row) for row in cursor.fetchall() if row[0] not in self.ignored_tables
            ]
