"""GET /metrics (SPEC §11): on any host, to METRICS_ALLOWED_IPS or with the METRICS_TOKEN bearer;
to anyone else a 404, X-Forwarded-For from an untrusted peer included."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from tests.conftest import host_client

pytestmark = pytest.mark.django_db

TOKEN = "metrics-scrape-token-for-tests-0123456789"
OUTSIDE = "203.0.113.7"


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def test_loopback_gets_the_prometheus_text_on_any_host(tenant_a):
    for host in ("localhost", "acme.localhost", "no-such-client.example"):
        response = host_client(host).get("/metrics")
        assert response.status_code == HTTPStatus.OK
        assert response["Content-Type"].startswith("text/plain; version=")
        assert b"# TYPE tenantauth_http_requests_total counter" in response.content
        assert response["X-Request-ID"]


def test_another_address_gets_a_404(tenant_a, token):
    response = host_client("acme.localhost").get("/metrics", REMOTE_ADDR=OUTSIDE)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert b"tenantauth_" not in response.content


def test_the_bearer_token_lets_another_address_in(tenant_a, token):
    response = host_client("acme.localhost").get(
        "/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )
    assert response.status_code == HTTPStatus.OK
    assert b"tenantauth_http_requests_total" in response.content


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Token {TOKEN}", "Bearer ", TOKEN],
)
def test_a_wrong_token_gets_a_404(tenant_a, token, authorization):
    response = host_client("acme.localhost").get(
        "/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=authorization
    )
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_no_token_configured_means_no_bearer_gets_in(tenant_a, settings):
    settings.METRICS_TOKEN = ""
    response = host_client("acme.localhost").get(
        "/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer "
    )
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_a_forged_x_forwarded_for_does_not_get_in(tenant_a, settings):
    # From an untrusted peer the header is ignored whole ...
    response = host_client("acme.localhost").get(
        "/metrics", REMOTE_ADDR=OUTSIDE, HTTP_X_FORWARDED_FOR="127.0.0.1"
    )
    assert response.status_code == HTTPStatus.NOT_FOUND
    # ... and through a trusted proxy only the address the proxy appended counts.
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    response = host_client("acme.localhost").get(
        "/metrics", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"127.0.0.1, {OUTSIDE}"
    )
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_an_allowed_network_is_believed_through_the_trusted_proxy(tenant_a, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.METRICS_ALLOWED_IPS = ["192.0.2.0/24"]
    response = host_client("acme.localhost").get(
        "/metrics", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.44"
    )
    assert response.status_code == HTTPStatus.OK
    # Loopback is no longer on the list.
    assert host_client("acme.localhost").get("/metrics").status_code == HTTPStatus.NOT_FOUND


def test_only_get_is_answered(tenant_a):
    response = host_client("acme.localhost").post("/metrics")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert b"tenantauth_" not in response.content
