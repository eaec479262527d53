"""Twenty concurrent refreshes of one refresh token against the real database: one wins."""

import threading
from http import HTTPStatus

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from ninja_jwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from tests.authapi.conftest import Api
from tests.conftest import ACME, host_client

CONCURRENCY = 20


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_refreshes_of_one_token_exactly_one_succeeds(
    tenant_a, make_user, clean_tenant_tables
):
    make_user(tenant_a, "racer")
    pair = Api(host_client(ACME.domain)).login("racer")
    barrier = threading.Barrier(CONCURRENCY)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def refresh() -> None:
        api = Api(host_client(ACME.domain))
        try:
            barrier.wait(timeout=30)
            response = api.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})
            with lock:
                results.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(CONCURRENCY)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    statuses = sorted(status for status, _ in results)
    assert len(statuses) == CONCURRENCY
    assert statuses.count(HTTPStatus.OK) == 1, statuses
    assert statuses.count(HTTPStatus.UNAUTHORIZED) == CONCURRENCY - 1
    winner = next(body for status, body in results if status == HTTPStatus.OK)

    with schema_context(tenant_a.schema_name):
        # The old token is blacklisted once; the rotated one is recorded as outstanding, with
        # its user, so it can be revoked later.
        assert BlacklistedToken.objects.count() == 1
        assert OutstandingToken.objects.filter(user__username="racer").count() == 2
    # With no grace period (REFRESH_REUSE_GRACE_SECONDS=0) the nineteen others presented an
    # already rotated token: reuse, which ends the session, the winner's new token included
    # (tests/authapi/test_sessions.py has the grace-period case).
    assert (
        Api(host_client(ACME.domain))
        .post("/api/auth/token/refresh/", {"refresh": winner["refresh"]})
        .status_code
        == HTTPStatus.UNAUTHORIZED
    )
