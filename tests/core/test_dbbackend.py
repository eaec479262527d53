"""core.hotpath.dbbackend: the search_path SET is skipped only when safe, and checked in tests."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.conftest import ACME, GLOBEX

pytestmark = pytest.mark.django_db(transaction=True)


def _statements(fn) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        fn()
    return [q["sql"] for q in queries.captured_queries]


def _select_one() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schemas(false)")
        cursor.fetchone()


def _schemas() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schemas(false)")
        return cursor.fetchone()[0]


def test_search_path_is_not_set_again_for_the_same_tenant(tenant_a):
    connection.set_tenant(tenant_a)
    assert any(s.startswith("SET search_path") for s in _statements(_select_one))
    connection.set_schema_to_public()  # what the middleware does first on every request
    connection.set_tenant(tenant_a)
    assert _statements(_select_one) == ["SELECT current_schemas(false)"]
    assert _schemas() == [ACME.schema, "public"]


def test_another_tenant_gets_its_own_search_path(tenant_a, tenant_b):
    connection.set_tenant(tenant_a)
    _select_one()
    connection.set_tenant(tenant_b)
    assert _schemas() == [GLOBEX.schema, "public"]
    connection.set_tenant(tenant_a)
    assert _schemas() == [ACME.schema, "public"]


def test_a_rolled_back_set_is_issued_again(tenant_a, tenant_b):
    connection.set_tenant(tenant_a)
    _select_one()
    with pytest.raises(RuntimeError), transaction.atomic():
        connection.set_tenant(tenant_b)
        _select_one()  # SET search_path to globex inside the transaction
        raise RuntimeError("roll back")  # PostgreSQL undoes that SET
    connection.set_tenant(tenant_b)
    assert _schemas() == [GLOBEX.schema, "public"]


def test_closed_connection_forgets_the_search_path(tenant_a):
    connection.set_tenant(tenant_a)
    _select_one()
    connection.close()
    connection.set_tenant(tenant_a)
    assert any(s.startswith("SET search_path") for s in _statements(_select_one))


def test_a_wrong_remembered_search_path_fails_loudly_instead_of_reading_another_tenant(
    tenant_a, tenant_b
):
    from core.hotpath.dbbackend.base import SearchPathMismatch

    connection.set_tenant(tenant_a)
    _select_one()  # the session's path is acme's now
    connection._session_search_path = [GLOBEX.schema, "public"]  # what a bug would leave behind
    connection.set_tenant(tenant_b)  # so the SET for globex is skipped
    with pytest.raises(SearchPathMismatch):
        _select_one()
    connection.close()  # the session is in an unknown state; start afresh
