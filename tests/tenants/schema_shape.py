"""What a schema holds, read from information_schema and pg_catalog independently of
tenants.schema_clone, with the schema's own name replaced by "SELF" so that two schemas compare.

Columns compare by their order, not by their attribute numbers: a migrated table keeps a gap
where a migration dropped a column (django_content_type.name, for one), a copy has none. Nothing
but the catalogs sees the gap; pg_dump prints the two the same.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

SELF = "SELF"

# Tables whose rows a migrate makes (the rest start empty).
MIGRATION_DATA = {
    "django_migrations": "SELECT id, app, name FROM {s}.django_migrations ORDER BY id",
    "django_content_type": "SELECT id, app_label, model FROM {s}.django_content_type ORDER BY id",
    "auth_permission": (
        "SELECT id, content_type_id, codename, name FROM {s}.auth_permission ORDER BY id"
    ),
}


def fetch(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _normalise(schema: str, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    def one(value: Any) -> Any:
        if value == schema:
            return SELF
        if isinstance(value, str):
            return value.replace(f'"{schema}".', f"{SELF}.").replace(f"{schema}.", f"{SELF}.")
        return value

    return [tuple(one(v) for v in row) for row in rows]


def schema_shape(schema: str, *, data: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "tables": """
            SELECT t.table_name, t.table_type, obj_description(c.oid, 'pg_class')
            FROM information_schema.tables t
            JOIN pg_namespace n ON n.nspname = t.table_schema
            JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name
            WHERE t.table_schema = %s ORDER BY 1""",
        "columns": """
            SELECT table_name, column_name,
                   row_number() OVER (PARTITION BY table_name ORDER BY ordinal_position),
                   column_default, is_nullable,
                   data_type, character_maximum_length, numeric_precision, numeric_scale,
                   datetime_precision, collation_name, udt_schema, udt_name, is_identity,
                   identity_generation, identity_start, identity_increment, identity_maximum,
                   identity_minimum, identity_cycle, is_generated, generation_expression,
                   col_description(format('%%I.%%I', table_schema, table_name)::regclass,
                                   ordinal_position::int)
            FROM information_schema.columns WHERE table_schema = %s ORDER BY 1, 3""",
        "constraints": """
            SELECT cl.relname, con.conname, con.contype, pg_get_constraintdef(con.oid),
                   con.condeferrable, con.condeferred, con.convalidated,
                   fn.nspname, fc.relname
            FROM pg_constraint con
            JOIN pg_class cl ON cl.oid = con.conrelid
            JOIN pg_namespace n ON n.oid = cl.relnamespace
            LEFT JOIN pg_class fc ON fc.oid = con.confrelid
            LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
            WHERE n.nspname = %s ORDER BY 1, 2""",
        "indexes": """
            SELECT tablename, indexname, indexdef FROM pg_indexes
            WHERE schemaname = %s ORDER BY 1, 2""",
        "sequences": """
            SELECT sequencename, data_type::text, start_value, min_value, max_value,
                   increment_by, cycle, cache_size, last_value
            FROM pg_sequences WHERE schemaname = %s ORDER BY 1""",
        "sequence_owners": """
            SELECT s.relname, t.relname, a.attname, d.deptype, tn.nspname
            FROM pg_class s
            JOIN pg_namespace sn ON sn.oid = s.relnamespace
            JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
                 AND d.refclassid = 'pg_class'::regclass
            JOIN pg_class t ON t.oid = d.refobjid
            JOIN pg_namespace tn ON tn.oid = t.relnamespace
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
            WHERE sn.nspname = %s AND s.relkind = 'S' ORDER BY 1""",
        "triggers": """
            SELECT c.relname, t.tgname ~ '^RI_ConstraintTrigger', count(*)
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = %s GROUP BY 1, 2 ORDER BY 1, 2""",
        "other_objects": """
            SELECT pg_describe_object(classid, objid, objsubid) FROM pg_depend
            WHERE refclassid = 'pg_namespace'::regclass AND refobjid = %s::regnamespace
              AND classid <> 'pg_class'::regclass ORDER BY 1""",
    }
    shape = {name: _normalise(schema, fetch(sql, [schema])) for name, sql in queries.items()}
    if data:
        quoted = connection.ops.quote_name(schema)
        for table, sql in MIGRATION_DATA.items():
            shape[f"rows:{table}"] = fetch(sql.format(s=quoted))
        for (table,) in fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]
        ):
            shape[f"count:{table}"] = fetch(f"SELECT count(*) FROM {quoted}.{table}")
    return shape


def assert_same_shape(left: str, right: str, *, data: bool = True) -> None:
    a, b = schema_shape(left, data=data), schema_shape(right, data=data)
    assert a.keys() == b.keys()
    for key in a:
        only_left = [row for row in a[key] if row not in b[key]]
        only_right = [row for row in b[key] if row not in a[key]]
        assert a[key] == b[key], (
            f"{key} differs: only in {left}: {only_left}; only in {right}: {only_right}"
        )
