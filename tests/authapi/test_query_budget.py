"""Query budgets on the hot path, as counts (not timings)."""

from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def test_hello_issues_no_sql_once_warm(api_a):
    assert api_a.get("/api/hello").status_code == HTTPStatus.OK  # warm host cache and connection
    with CaptureQueriesContext(connection) as queries:
        assert api_a.get("/api/hello").status_code == HTTPStatus.OK
    assert queries.captured_queries == []


def test_current_user_issues_at_most_two_statements(api_a, tenant_a, make_user):
    make_user(tenant_a, "budget")
    access = api_a.login("budget")["access"]
    api_a.get("/api/user/", token=access)  # warm
    with CaptureQueriesContext(connection) as queries:
        assert api_a.get("/api/user/", token=access).status_code == HTTPStatus.OK
    assert len(queries.captured_queries) <= 2, [q["sql"] for q in queries.captured_queries]
