"""tenants.schema_clone on a hand-made schema with what cloning tools are known to get wrong:
serial defaults pointing at the source's sequence, identity sequences of renamed tables, foreign
keys into the source, renamed constraints and indexes, sequences not carried over."""

import pytest
from django.db import connection, transaction

from tenants.schema_clone import CloneUnsupportedError, describe_schema, schema_clone
from tests.tenants.schema_shape import assert_same_shape, fetch

pytestmark = pytest.mark.django_db

SOURCE_DDL = """
CREATE SCHEMA src;
CREATE TABLE src.kind (id serial PRIMARY KEY, label text NOT NULL UNIQUE);
COMMENT ON TABLE src.kind IS 'what a thing is';
COMMENT ON COLUMN src.kind.label IS 'shown to people';
CREATE TABLE src.old_name (
    id bigint GENERATED ALWAYS AS IDENTITY (START WITH 100 INCREMENT BY 5) PRIMARY KEY,
    kind_id integer NOT NULL REFERENCES src.kind (id) DEFERRABLE INITIALLY DEFERRED,
    tenant_id bigint REFERENCES public.tenants_client (id),
    qty integer NOT NULL DEFAULT 1 CONSTRAINT qty_positive CHECK (qty > 0),
    doubled integer GENERATED ALWAYS AS (qty * 2) STORED,
    code varchar(20),
    CONSTRAINT code_per_kind UNIQUE (kind_id, code)
);
ALTER TABLE src.old_name RENAME TO thing;
CREATE INDEX thing_code_lower ON src.thing (lower(code)) WHERE code IS NOT NULL;
CREATE SEQUENCE src.ticket START WITH 1000;
CREATE TABLE src.ticket_holder (number bigint NOT NULL DEFAULT nextval('src.ticket'));
ALTER TABLE src.thing DROP COLUMN code, ADD COLUMN code varchar(20);
INSERT INTO src.kind (label) VALUES ('small'), ('large');
INSERT INTO src.thing (kind_id, qty) VALUES (1, 3), (2, 4);
INSERT INTO src.ticket_holder DEFAULT VALUES;
"""


@pytest.fixture
def source(public_tenant) -> str:
    fetch(SOURCE_DDL)
    return "src"


def clone(target: str) -> None:
    with transaction.atomic():
        schema_clone(source="src", target=target)


def test_copy_has_the_same_shape_names_rows_and_sequence_states(source):
    clone("dst")
    assert_same_shape("dst", "src", data=False)
    assert fetch("SELECT id, label FROM dst.kind ORDER BY id") == [(1, "small"), (2, "large")]
    assert fetch("SELECT id, kind_id, qty, doubled FROM dst.thing ORDER BY id") == [
        (100, 1, 3, 6),
        (105, 2, 4, 8),
    ]


def test_defaults_and_identities_use_the_copys_own_sequences(source):
    clone("dst")
    defaults = fetch(
        "SELECT table_name, column_default FROM information_schema.columns "
        "WHERE table_schema = 'dst' AND column_default LIKE 'nextval%%' ORDER BY 1"
    )
    assert defaults == [
        ("kind", "nextval('dst.kind_id_seq'::regclass)"),
        ("ticket_holder", "nextval('dst.ticket'::regclass)"),
    ]
    # The renamed table's identity sequence keeps its source name, and belongs to the copy.
    assert fetch("SELECT pg_get_serial_sequence('dst.thing', 'id')") == [("dst.old_name_id_seq",)]
    fetch("INSERT INTO dst.kind (label) VALUES ('medium')")
    fetch("INSERT INTO dst.thing (kind_id) VALUES (3)")
    fetch("INSERT INTO dst.ticket_holder DEFAULT VALUES")
    assert fetch("SELECT max(id) FROM dst.kind") == [(3,)]
    assert fetch("SELECT max(id) FROM dst.thing") == [(110,)]
    assert fetch("SELECT max(number) FROM dst.ticket_holder") == [(1001,)]
    # ... and the source's sequences did not move.
    assert fetch("SELECT last_value FROM src.kind_id_seq") == [(2,)]
    assert fetch("SELECT last_value FROM src.old_name_id_seq") == [(105,)]
    assert fetch("SELECT last_value FROM src.ticket") == [(1000,)]


def test_foreign_keys_stay_inside_the_copy_or_in_public(source):
    clone("dst")
    references = fetch(
        "SELECT n.nspname, c.relname FROM pg_constraint con "
        "JOIN pg_class c ON c.oid = con.confrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE con.connamespace = 'dst'::regnamespace AND con.contype = 'f' ORDER BY 1"
    )
    assert references == [("dst", "kind"), ("public", "tenants_client")]
    with pytest.raises(Exception, match="violates foreign key"), transaction.atomic():
        fetch("INSERT INTO dst.thing (kind_id) VALUES (99)")
        fetch("SET CONSTRAINTS ALL IMMEDIATE")


def test_two_copies_are_independent(source):
    clone("dst_one")
    clone("dst_two")
    fetch("INSERT INTO dst_one.kind (label) VALUES ('only here')")
    assert fetch("SELECT count(*) FROM dst_two.kind") == [(2,)]
    fetch("INSERT INTO dst_two.kind (label) VALUES ('medium')")
    assert fetch("SELECT max(id) FROM dst_two.kind") == [(3,)]


def test_a_source_with_objects_a_copy_would_miss_is_refused_before_anything_is_made(source):
    fetch("CREATE VIEW src.big_things AS SELECT * FROM src.thing WHERE qty > 3")
    fetch("CREATE FUNCTION src.answer() RETURNS int LANGUAGE sql AS 'SELECT 42'")
    description = describe_schema("src")
    assert description is not None
    assert any("big_things" in item for item in description.unsupported)
    assert any("answer" in item for item in description.unsupported)
    with pytest.raises(CloneUnsupportedError, match="big_things"):
        clone("dst")
    assert not fetch("SELECT 1 FROM pg_namespace WHERE nspname = 'dst'")


def test_the_search_path_is_left_as_it_was(source):
    with connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        before = cursor.fetchone()
        clone("dst")
        cursor.execute("SHOW search_path")
        assert cursor.fetchone() == before
