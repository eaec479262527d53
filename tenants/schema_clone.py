"""Copy a PostgreSQL schema: tables, sequences, defaults, constraints, indexes and rows.

Used to onboard a client from the migrated template schema (tenants.template) instead of replaying
every migration. django-tenants ships a clone (`django_tenants.clone`, pg-clone-schema); it is not
used because, on this project's schema, its copies differ from a migrated schema (unique
constraints are re-created under new names), it re-creates a 4,600-line PL/pgSQL function and
drops and re-creates types in `public` on every call (a lock every concurrent onboarding waits
on), and it needs a `migrate_schemas --fake` run afterwards.

How the copy stays equal to the source:

* The source is described from the catalogs with `search_path` set to the source schema alone,
  so `pg_get_constraintdef`, `pg_get_indexdef` and `pg_get_expr` print the source's own objects
  unqualified and everything else (public, extensions) qualified. The script runs with
  `search_path` set to the target alone, so those unqualified names bind to the target's own
  tables and sequences: foreign keys and `nextval(...)` defaults never point back into the source.
* Names are kept: constraints and indexes are created under their source names, identity
  sequences under their source names and options, standalone sequences likewise.
* Sequences are new objects (independent of the source's) set to the source's state, so a
  sequence the source never used starts fresh, and one whose rows were copied continues after
  them, exactly as in a schema built by migrations.
* Whatever the copy does not reproduce (views, functions, triggers, grants, row security,
  partitioning, ...) is listed in `SchemaDescription.unsupported`; `schema_clone` refuses such a
  source rather than make an unequal copy.

Every catalog read is driven by an index (pg_depend by referenced namespace, then by table oid),
so describing a schema costs the same with ten tenant schemas as with thousands.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from django.db import connection, transaction

__all__ = [
    "CloneUnsupportedError",
    "SchemaDescription",
    "data_digest",
    "describe_schema",
    "schema_clone",
]


class CloneUnsupportedError(Exception):
    """The source holds objects that the copy would not reproduce."""


@dataclass(frozen=True)
class Sequence:
    name: str
    type: str
    start: int
    increment: int
    minimum: int
    maximum: int
    cache: int
    cycle: bool
    # (table, column) of the column owning it; `identity` is "a" (ALWAYS) or "d" (BY DEFAULT)
    # for an identity column's sequence, "" for a standalone (or serial) one.
    owner: tuple[str, str] | None
    identity: str


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]  # in order, generated columns left out (they cannot be inserted)
    comment: str | None


@dataclass(frozen=True)
class SchemaDescription:
    schema: str
    tables: tuple[Table, ...]
    sequences: tuple[Sequence, ...]
    defaults: tuple[tuple[str, str, str], ...]  # (table, column, expression)
    constraints: tuple[tuple[str, str, str, str], ...]  # (table, name, contype, definition)
    indexes: tuple[tuple[str, str], ...]  # (name, CREATE INDEX ...)
    unsupported: tuple[str, ...] = field(default=())

    def digest(self) -> str:
        """A hash of the structure (not of the rows, see `data_digest`); names of the schema
        itself do not occur in it, so two equal schemas have the same digest."""
        payload = asdict(self)
        del payload["schema"]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def clone_sql(self, target: str) -> str:
        """The script that makes `target` a copy of this schema, rows included. It expects
        `search_path` to be the target alone (`schema_clone` sets it)."""
        q = connection.ops.quote_name
        source = q(self.schema)
        out = [f"CREATE SCHEMA {q(target)}"]
        for seq in self.sequences:
            if not seq.identity:
                out.append(f"CREATE SEQUENCE {q(seq.name)} AS {seq.type} {_sequence_options(seq)}")
        for table in self.tables:
            # No INCLUDING DEFAULTS / IDENTITY / CONSTRAINTS / INDEXES: those are recreated below
            # from their definitions, under their own names and bound to the target's objects.
            out.append(
                f"CREATE TABLE {q(table.name)} (LIKE {source}.{q(table.name)} INCLUDING GENERATED "
                "INCLUDING STORAGE INCLUDING COMMENTS INCLUDING COMPRESSION)"
            )
            if table.comment is not None:  # LIKE copies column comments only
                out.append(f"COMMENT ON TABLE {q(table.name)} IS {_literal(table.comment)}")
        for seq in self.sequences:
            if seq.identity and seq.owner:
                owner_table, column = seq.owner
                kind = "ALWAYS" if seq.identity == "a" else "BY DEFAULT"
                out.append(
                    f"ALTER TABLE {q(owner_table)} ALTER COLUMN {q(column)} "
                    f"ADD GENERATED {kind} AS IDENTITY "
                    f"(SEQUENCE NAME {q(seq.name)} {_sequence_options(seq)})"
                )
            elif seq.owner:
                owner_table, column = seq.owner
                out.append(f"ALTER SEQUENCE {q(seq.name)} OWNED BY {q(owner_table)}.{q(column)}")
        for table_name, column, expression in self.defaults:
            out.append(
                f"ALTER TABLE {q(table_name)} ALTER COLUMN {q(column)} SET DEFAULT {expression}"
            )
        for table in self.tables:
            columns = ", ".join(q(c) for c in table.columns)
            out.append(
                f"INSERT INTO {q(table.name)} ({columns}) OVERRIDING SYSTEM VALUE "  # noqa: S608
                f"SELECT {columns} FROM {source}.{q(table.name)}"
            )
        for seq in self.sequences:
            # Copy the state, not the object: the target's sequence is its own.
            out.append(
                f"SELECT setval({_literal(q(seq.name))}, last_value, is_called) "  # noqa: S608
                f"FROM {source}.{q(seq.name)}"
            )
        order = {"p": 0, "u": 1, "x": 2, "c": 3, "f": 4}  # foreign keys need the unique keys
        for table_name, name, _, definition in sorted(self.constraints, key=lambda c: order[c[2]]):
            out.append(f"ALTER TABLE {q(table_name)} ADD CONSTRAINT {q(name)} {definition}")
        out.extend(definition for _, definition in self.indexes)
        return ";\n".join(out) + ";"


def _sequence_options(seq: Sequence) -> str:
    return (
        f"INCREMENT BY {seq.increment} MINVALUE {seq.minimum} MAXVALUE {seq.maximum} "
        f"START WITH {seq.start} CACHE {seq.cache} {'CYCLE' if seq.cycle else 'NO CYCLE'}"
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _SearchPath:
    """`with _SearchPath(cursor, schema):` — only `schema` (and pg_catalog) is searched inside;
    the previous value is put back on the way out (transaction-local, like django-tenants')."""

    def __init__(self, cursor, schema: str) -> None:  # type: ignore[no-untyped-def]
        self.cursor = cursor
        self.schema = schema

    def __enter__(self) -> None:
        self.cursor.execute("SELECT current_setting('search_path')")
        self.previous = self.cursor.fetchone()[0]
        self.cursor.execute(
            "SELECT set_config('search_path', %s, true)", [connection.ops.quote_name(self.schema)]
        )

    def __exit__(self, exc_type: object, *_: object) -> None:
        # After an error the transaction is aborted (and its rollback undoes the setting).
        if exc_type is None:
            self.cursor.execute("SELECT set_config('search_path', %s, true)", [self.previous])


_RELATIONS_SQL = """
SELECT c.oid, c.relname, c.relkind, c.relpersistence, c.reloptions IS NOT NULL,
       c.relacl IS NOT NULL, c.relrowsecurity, c.relreplident, c.relhassubclass OR c.relispartition,
       obj_description(c.oid, 'pg_class')
FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = %(nsp)s
  AND d.classid = 'pg_class'::regclass AND d.deptype = 'n'
ORDER BY c.relname
"""

# Functions, types, domains, operators, ... living in the schema: not copied, so unsupported.
_OTHER_OBJECTS_SQL = """
SELECT pg_describe_object(d.classid, d.objid, d.objsubid)
FROM pg_depend d
WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = %(nsp)s
  AND d.classid <> 'pg_class'::regclass AND d.deptype = 'n'
ORDER BY 1
"""

_COLUMNS_SQL = """
SELECT a.attrelid, a.attname, a.attgenerated <> '', a.attacl IS NOT NULL
FROM pg_attribute a
WHERE a.attrelid = ANY(%(tables)s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

_DEFAULTS_SQL = """
SELECT c.relname, a.attname, pg_get_expr(ad.adbin, ad.adrelid)
FROM pg_attrdef ad
JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
JOIN pg_class c ON c.oid = ad.adrelid
WHERE ad.adrelid = ANY(%(tables)s) AND a.attgenerated = ''
ORDER BY c.relname, a.attnum
"""

_CONSTRAINTS_SQL = """
SELECT c.relname, con.conname, con.contype, pg_get_constraintdef(con.oid)
FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
WHERE con.conrelid = ANY(%(tables)s)
ORDER BY c.relname, con.conname
"""

# pg_get_indexdef always qualifies the table (since the CVE-2018-1058 fixes), whatever the
# search_path: the qualified name comes along so that it can be taken out.
_INDEXES_SQL = """
SELECT ic.relname, pg_get_indexdef(i.indexrelid),
       quote_ident(n.nspname) || '.' || quote_ident(c.relname), quote_ident(c.relname)
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = ANY(%(tables)s)
  AND NOT EXISTS (
      SELECT 1 FROM pg_constraint con
      WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid
        AND con.contype IN ('p', 'u', 'x')
  )
ORDER BY ic.relname
"""

_SEQUENCES_SQL = """
SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
       s.seqcache, s.seqcycle, owner.relname, a.attname, coalesce(a.attidentity, '')
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
     AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
LEFT JOIN pg_class owner ON owner.oid = d.refobjid
LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE s.seqrelid = ANY(%(sequences)s)
ORDER BY c.relname
"""

# Table-level objects the copy does not make.
_TABLE_EXTRAS_SQL = """
SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgrelid = ANY(%(tables)s) AND NOT tgisinternal
UNION ALL
SELECT 'rule ' || rulename FROM pg_rewrite WHERE ev_class = ANY(%(tables)s)
UNION ALL
SELECT 'policy ' || polname FROM pg_policy WHERE polrelid = ANY(%(tables)s)
"""


def describe_schema(schema: str) -> SchemaDescription | None:
    """What `schema` holds, as `schema_clone` needs it; None if there is no such schema."""
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [schema])
        row = cursor.fetchone()
        if row is None:
            return None
        nsp = row[0]
        with _SearchPath(cursor, schema):
            return _describe(cursor, schema, nsp)


def _describe(cursor, schema: str, nsp: int) -> SchemaDescription:  # type: ignore[no-untyped-def]
    unsupported: list[str] = []
    cursor.execute(_RELATIONS_SQL, {"nsp": nsp})
    table_names: dict[int, str] = {}
    sequence_oids: list[int] = []
    comments: dict[int, str | None] = {}
    for row in cursor.fetchall():
        oid, name, kind, persistence, options, acl, rls, replident, inherits, comment = row
        if kind == "S":
            sequence_oids.append(oid)
            if acl:
                unsupported.append(f"grants on sequence {name}")
            continue
        if kind != "r":
            unsupported.append(f"relation {name} of kind {kind!r}")
            continue
        table_names[oid] = name
        comments[oid] = comment
        problems = {
            "unlogged or temporary": persistence != "p",
            "storage options": options,
            "grants": acl,
            "row security": rls,
            "replica identity": replident != "d",
            "inheritance or partitions": inherits,
        }
        unsupported += [f"{what} on table {name}" for what, bad in problems.items() if bad]
    cursor.execute(_OTHER_OBJECTS_SQL, {"nsp": nsp})
    unsupported += [row[0] for row in cursor.fetchall()]

    tables = list(table_names)
    columns: dict[int, list[str]] = {oid: [] for oid in tables}
    cursor.execute(_COLUMNS_SQL, {"tables": tables})
    for oid, name, generated, acl in cursor.fetchall():
        if not generated:
            columns[oid].append(name)
        if acl:
            unsupported.append(f"grants on column {table_names[oid]}.{name}")
    cursor.execute(_DEFAULTS_SQL, {"tables": tables})
    defaults = tuple(cursor.fetchall())
    cursor.execute(_CONSTRAINTS_SQL, {"tables": tables})
    constraints = []
    for table, name, contype, definition in cursor.fetchall():
        if contype in ("p", "u", "x", "c", "f"):
            constraints.append((table, name, contype, definition))
        else:
            unsupported.append(f"constraint {name} of type {contype!r} on {table}")
    cursor.execute(_INDEXES_SQL, {"tables": tables})
    indexes = []
    for name, definition, qualified, table in cursor.fetchall():
        unqualified = definition.replace(f" ON {qualified} ", f" ON {table} ", 1)
        unqualified = unqualified.replace(f" ON ONLY {qualified} ", f" ON ONLY {table} ", 1)
        if unqualified == definition:
            unsupported.append(f"index {name}: unexpected definition {definition!r}")
        indexes.append((name, unqualified))
    cursor.execute(_SEQUENCES_SQL, {"sequences": sequence_oids})
    sequences = tuple(
        # The first eight columns are the positional fields (mypy cannot count a row's length).
        Sequence(*row[:8], owner=(row[8], row[9]) if row[8] else None, identity=row[10])  # type: ignore[misc]
        for row in cursor.fetchall()
    )
    if tables:
        cursor.execute(_TABLE_EXTRAS_SQL, {"tables": tables})
        unsupported += [row[0] for row in cursor.fetchall()]
    return SchemaDescription(
        schema=schema,
        tables=tuple(
            Table(name=table_names[oid], columns=tuple(columns[oid]), comment=comments[oid])
            for oid in sorted(tables, key=table_names.__getitem__)
        ),
        sequences=sequences,
        defaults=defaults,
        constraints=tuple(constraints),
        indexes=tuple(indexes),
        unsupported=tuple(sorted(unsupported)),
    )


def data_digest(description: SchemaDescription) -> str:
    """A hash of every row of every table and of every sequence's state, in one query."""
    q = connection.ops.quote_name
    schema = q(description.schema)
    parts = [
        f"SELECT {_literal(t.name)}, count(*)::text, "  # noqa: S608 (quoted catalog names)
        f"md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) "
        f"FROM {schema}.{q(t.name)} x"
        for t in description.tables
    ] + [
        f"SELECT {_literal(s.name)}, last_value::text, is_called::text "  # noqa: S608
        f"FROM {schema}.{q(s.name)}"
        for s in description.sequences
    ]
    if not parts:
        return hashlib.sha256(b"").hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts) + " ORDER BY 1")
        rows = cursor.fetchall()
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def schema_clone(*, source: str, target: str, description: SchemaDescription | None = None) -> None:
    """Create schema `target` as a copy of `source` in the current transaction.

    Pass the `description` already read (tenants.template checks the template with it) so that
    what was checked is exactly what is copied. Raises CloneUnsupportedError, before changing
    anything, when the source holds objects the copy would not reproduce.
    """
    description = description or describe_schema(source)
    if description is None:
        raise CloneUnsupportedError(f"schema {source!r} does not exist")
    if description.schema != source:
        raise ValueError("description is of another schema")
    if description.unsupported:
        raise CloneUnsupportedError(
            f"schema {source!r} holds objects a copy would miss: "
            + ", ".join(description.unsupported)
        )
    script = description.clone_sql(target)
    with (
        transaction.atomic(savepoint=False),
        connection.cursor() as cursor,
        _SearchPath(cursor, target),
    ):
        cursor.execute(script)
