import time
from http import HTTPStatus

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.hotpath import localcache
from tenants import selectors
from tenants.models import Domain
from tests.conftest import ACME, host_client, run_in_another_process

pytestmark = pytest.mark.django_db


def test_unknown_host_is_json_404_tenant_not_found(public_tenant):
    response = host_client("nobody.localhost").get("/api/hello")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {"detail": "Unknown tenant", "code": "tenant_not_found"}


@pytest.mark.parametrize("path", ["/", "/admin/", "/login/", "/api/user/", "/static/x.css"])
def test_unknown_host_never_falls_back_to_public(public_tenant, path):
    response = host_client("evil.example.com").get(path)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["code"] == "tenant_not_found"


@pytest.mark.parametrize("host", ["bad host", "a..b", "x" * 300, "localhost:notaport"])
def test_malformed_host_header_is_json_404_not_500(public_tenant, host):
    response = host_client(host).get("/api/hello")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["code"] == "tenant_not_found"


def test_inactive_client_is_json_403_and_keeps_its_data(tenant_a, http_a, in_schema):
    tenant_a.is_active = False
    tenant_a.save(update_fields=["is_active"])

    response = http_a.get("/api/hello")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "tenant_inactive"
    assert http_a.get("/admin/").status_code == HTTPStatus.FORBIDDEN

    from authapi.models import User

    with in_schema(tenant_a):
        assert User.objects.filter(username="owner").exists()


def test_public_host_serves_the_platform_side(http_public):
    response = http_public.get("/admin/login/")
    assert response.status_code == HTTPStatus.OK
    # The tenant API does not exist on the public host.
    assert http_public.get("/api/hello").status_code == HTTPStatus.NOT_FOUND


def test_tenant_host_serves_its_own_tenant(http_a, tenant_a):
    response = http_a.get("/api/hello")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"client_id": tenant_a.id, "client_name": ACME.name}


def test_host_lookup_issues_no_sql_once_warm(tenant_a, http_a):
    assert selectors.client_get_by_host(host=ACME.domain) == tenant_a  # warms the cache
    with CaptureQueriesContext(connection) as queries:
        assert selectors.client_get_by_host(host=ACME.domain) == tenant_a
        response = http_a.get("/api/hello")
    assert response.status_code == HTTPStatus.OK
    assert [q["sql"] for q in queries.captured_queries] == []


def test_an_unknown_host_asked_again_costs_no_sql(public_tenant):
    assert selectors.client_get_by_host(host="ghost.localhost") is None
    with CaptureQueriesContext(connection) as queries:
        assert selectors.client_get_by_host(host="ghost.localhost") is None
    assert queries.captured_queries == []


def test_host_lookup_sees_a_new_domain_at_once(tenant_a, http_a):
    alias = host_client("acme-alias.localhost")
    assert alias.get("/api/hello").status_code == HTTPStatus.NOT_FOUND  # cached as unknown

    Domain.objects.create(domain="acme-alias.localhost", tenant=tenant_a, is_primary=False)

    response = alias.get("/api/hello")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["client_id"] == tenant_a.id


def test_another_process_change_invalidates_this_process_cache(tenant_a):
    """A message on the channel (what any process's save publishes) drops local entries."""
    assert localcache.wait_until_ready()
    assert selectors.client_get_by_host(host=ACME.domain) == tenant_a
    Domain.objects.filter(domain=ACME.domain).update(domain="acme-moved.localhost")  # no signal
    # Stale without a message, as designed.
    assert selectors.client_get_by_host(host=ACME.domain) == tenant_a
    other_process = redis.Redis.from_url(settings.REDIS_URL)
    other_process.publish(localcache.CHANNEL, "hosts\x00")
    deadline = time.monotonic() + 5
    lookup = selectors.client_get_by_host
    while lookup(host=ACME.domain) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert selectors.client_get_by_host(host=ACME.domain) is None


def test_deactivating_a_client_is_seen_at_once(tenant_a, http_a):
    assert http_a.get("/api/hello").status_code == HTTPStatus.OK
    tenant_a.is_active = False
    tenant_a.save(update_fields=["is_active"])
    assert http_a.get("/api/hello").status_code == HTTPStatus.FORBIDDEN


@pytest.mark.django_db(transaction=True)
def test_deactivating_a_client_in_another_process_is_seen_at_once(tenant_a, http_a):
    assert http_a.get("/api/hello").status_code == HTTPStatus.OK  # cached in this process
    change = (
        "from tenants.models import Client\n"
        f"client = Client.objects.get(schema_name={ACME.schema!r})\n"
        "client.is_active = {active}\n"
        "client.save()\n"
    )
    run_in_another_process(change.format(active=False))
    try:
        deadline = time.monotonic() + 2
        while http_a.get("/api/hello").status_code == HTTPStatus.OK:
            assert time.monotonic() < deadline, "still served after the client was deactivated"
            time.sleep(0.01)
        assert http_a.get("/api/hello").status_code == HTTPStatus.FORBIDDEN
    finally:
        run_in_another_process(change.format(active=True))


def test_www_host_resolves_as_written_not_to_the_bare_domain(tenant_a, tenant_b):
    Domain.objects.create(domain="shadow.localhost", tenant=tenant_a, is_primary=False)
    Domain.objects.create(domain="www.shadow.localhost", tenant=tenant_b, is_primary=False)

    www = host_client("www.shadow.localhost").get("/api/hello")
    bare = host_client("shadow.localhost").get("/api/hello")

    assert www.status_code == HTTPStatus.OK
    assert www.json()["client_id"] == tenant_b.pk
    assert bare.json()["client_id"] == tenant_a.pk


def test_www_prefix_of_a_known_domain_is_an_unknown_tenant(tenant_a):
    response = host_client("www." + ACME.domain).get("/api/hello")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["code"] == "tenant_not_found"


def test_each_host_lookup_gets_a_fresh_client_that_it_may_change(tenant_a):
    first = selectors.client_get_by_host(host=ACME.domain)
    first.name = "changed by one request"
    first.domain_url = "written by django-tenants"
    second = selectors.client_get_by_host(host=ACME.domain)
    assert second is not first
    assert second.name == ACME.name and second.domain_url != "written by django-tenants"
