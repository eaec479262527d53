"""Query budgets on the hot path, as counts (not timings)."""

from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def _sql(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries]


def test_hello_issues_no_sql_once_warm(api_a):
    assert api_a.get("/api/hello").status_code == HTTPStatus.OK  # warm host cache and connection
    with CaptureQueriesContext(connection) as queries:
        assert api_a.get("/api/hello").status_code == HTTPStatus.OK
    assert _sql(queries) == []


def test_current_user_issues_no_sql_once_warm(api_a, tenant_a, make_user):
    """The issue allows two statements; the user's row is cached per process and dropped in
    every process when the user is saved (core.hotpath, "users")."""
    make_user(tenant_a, "budget")
    access = api_a.login("budget")["access"]
    api_a.get("/api/user/", token=access)  # warm
    with CaptureQueriesContext(connection) as queries:
        response = api_a.get("/api/user/", token=access)
    assert response.status_code == HTTPStatus.OK
    assert response.json()["username"] == "budget"
    assert _sql(queries) == []


def test_current_user_cold_is_two_statements(api_a, tenant_a, make_user):
    """Cold (just logged in, so the cached row was dropped): the user's row and the session's,
    nothing else — the connection's search_path is kept between requests of a tenant
    (core.hotpath.dbbackend)."""
    make_user(tenant_a, "cold")
    access = api_a.login("cold")["access"]
    api_a.get("/api/hello")
    with CaptureQueriesContext(connection) as queries:
        assert api_a.get("/api/user/", token=access).status_code == HTTPStatus.OK
    sql = _sql(queries)
    assert len(sql) == 2 and "authapi_user" in sql[0] and "authapi_session" in sql[1], sql


def test_verify_of_an_access_token_issues_no_sql_once_warm(api_a, tenant_a, make_user):
    make_user(tenant_a, "verifier")
    access = api_a.login("verifier")["access"]
    api_a.post("/api/auth/token/verify/", {"token": access})  # warm the user-status cache
    with CaptureQueriesContext(connection) as queries:
        response = api_a.post("/api/auth/token/verify/", {"token": access})
    assert response.status_code == HTTPStatus.OK
    assert _sql(queries) == []


def test_verify_of_a_refresh_token_reads_only_the_blacklist(api_a, tenant_a, make_user):
    make_user(tenant_a, "verifier2")
    refresh = api_a.login("verifier2")["refresh"]
    api_a.post("/api/auth/token/verify/", {"token": refresh})
    with CaptureQueriesContext(connection) as queries:
        response = api_a.post("/api/auth/token/verify/", {"token": refresh})
    assert response.status_code == HTTPStatus.OK
    sql = _sql(queries)
    assert len(sql) == 1 and "blacklist" in sql[0], sql


def test_switching_tenants_still_sets_the_search_path(api_a, api_b, tenant_a, tenant_b, make_user):
    """Keeping the search_path must never serve one tenant's rows to another."""
    make_user(tenant_a, "same-name", role="staff", email="a@acme.test")
    make_user(tenant_b, "same-name", role="staff", email="b@globex.test")
    token_a = api_a.login("same-name")["access"]
    token_b = api_b.login("same-name")["access"]

    def emails(api, token):
        response = api.get("/api/accounts/", token=token)
        assert response.status_code == HTTPStatus.OK
        return {item["email"] for item in response.json()["items"]}

    for _ in range(3):
        with CaptureQueriesContext(connection) as queries:
            assert "a@acme.test" in emails(api_a, token_a)
            assert "b@globex.test" not in emails(api_a, token_a)
        assert any(q.startswith("SET search_path") for q in _sql(queries))
        with CaptureQueriesContext(connection) as queries:
            assert "b@globex.test" in emails(api_b, token_b)
            assert "a@acme.test" not in emails(api_b, token_b)
        assert any(q.startswith("SET search_path") for q in _sql(queries))
