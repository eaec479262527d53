"""Purge of expired tokens, one schema at a time: batches, ties, the schema lock, the cascading
key, isolation between schemas and concurrent purges."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone
from django_tenants.utils import schema_context
from ninja_jwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from authapi import purge
from tests.authapi.purge_support import counts, live_blacklist_count, seed, test_database_url


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
