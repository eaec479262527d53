"""The counters and histograms of SPEC §11 move when their events happen, with bounded labels:
routes as patterns, no client label unless METRICS_CLIENT_LABEL."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.db import connection
from django.utils import timezone

from authapi import purge
from tests.authapi.conftest import PASSWORD
from tests.authapi.purge_support import seed
from tests.conftest import host_client, run_in_another_process
from tests.observability.conftest import parse, scrape, value
from tests.protection.conftest import from_ip

pytestmark = pytest.mark.django_db


def test_login_success_and_failure_are_counted_by_outcome(
    api_a, make_user, tenant_a, metrics_delta
):
    make_user(tenant_a, "olga")
    success = metrics_delta("tenantauth_logins_total", outcome="success")
    failure = metrics_delta("tenantauth_logins_total", outcome="failure")
    api_a.login("olga")
    api_a.post("/api/auth/token/", {"username": "olga", "password": "Wrong-pass-2026"})
    api_a.post("/api/auth/token/", {"username": "nobody", "password": "Wrong-pass-2026"})
    assert (success(), failure()) == (1, 2)


def test_refresh_and_reuse_detection_are_counted(api_a, make_user, tenant_a, metrics_delta):
    make_user(tenant_a, "rita")
    rotated = metrics_delta("tenantauth_refreshes_total", outcome="rotated")
    refused = metrics_delta("tenantauth_refreshes_total", outcome="refused")
    reuse = metrics_delta("tenantauth_refresh_reuse_detected_total")
    pair = api_a.login("rita")
    response = api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert response.status_code == HTTPStatus.OK
    assert (rotated(), reuse()) == (1, 0)
    response = api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert (rotated(), refused(), reuse()) == (1, 1, 1)


def test_throttled_logins_are_counted_with_their_reason(
    api_a, make_user, tenant_a, limits, metrics_delta
):
    make_user(tenant_a, "tess")
    throttled = metrics_delta("tenantauth_throttled_total", reason="login_blocked")
    login_throttled = metrics_delta("tenantauth_logins_total", outcome="throttled")
    for _ in range(10):
        api_a.post(
            "/api/auth/token/",
            {"username": "tess", "password": "Wrong-pass-2026"},
            **from_ip("198.51.100.3"),
        )
    response = api_a.post(
        "/api/auth/token/", {"username": "tess", "password": PASSWORD}, **from_ip("198.51.100.3")
    )
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert (throttled(), login_throttled()) == (1, 1)


def test_register_rate_refusals_are_counted(api_a, tenant_a, limits, metrics_delta):
    limits.REGISTER_RATE = "1/h"
    throttled = metrics_delta("tenantauth_throttled_total", reason="register_rate")
    for i in range(2):
        api_a.post(
            "/api/auth/register/",
            {"username": f"reg{i}", "email": f"reg{i}@acme.test", "password": "Reg-pass-2026!"},
            **from_ip("198.51.100.4"),
        )
    assert throttled() == 1


def test_purge_runs_and_rows_are_counted(tenant_a, metrics_delta):
    seed(tenant_a.schema_name, expired=7, live=2)
    runs = metrics_delta("tenantauth_purge_runs_total")
    outstanding = metrics_delta("tenantauth_purge_rows_deleted_total", kind="outstanding")
    blacklisted = metrics_delta("tenantauth_purge_rows_deleted_total", kind="blacklisted")
    before = timezone.now() - timedelta(seconds=1)
    purge.tokens_purge_expired(schema_name=tenant_a.schema_name)
    assert (runs(), outstanding(), blacklisted()) == (1, 7, 3)
    last = value(scrape(), "tenantauth_purge_last_success_timestamp_seconds")
    assert last >= before.timestamp()


def test_requests_are_counted_and_timed_by_route_pattern_and_status(api_a, make_user, tenant_a):
    make_user(tenant_a, "ursula")
    pair = api_a.login("ursula")
    api_a.get("/api/user/", token=pair["access"])
    api_a.get("/api/user/?debug=1&token=whatever", token=pair["access"])
    api_a.get("/api/auth/sessions/", token=pair["access"])
    api_a.http.delete(
        "/api/auth/sessions/00000000-0000-0000-0000-000000000000/",
        HTTP_AUTHORIZATION=f"Bearer {pair['access']}",
    )
    api_a.get("/api/no/such/route/12345")
    host_client("no-such-client.example").get("/api/user/")
    samples = scrape()
    user = {"route": "/api/user/", "method": "GET", "status": "200"}
    assert value(samples, "tenantauth_http_requests_total", **user) >= 2
    assert value(samples, "tenantauth_http_request_duration_seconds_count", **user) >= 2
    assert value(samples, "tenantauth_http_request_duration_seconds_bucket", le="+Inf", **user) >= 2
    assert value(samples, "tenantauth_http_request_duration_seconds_sum", **user) > 0
    assert (
        value(
            samples,
            "tenantauth_http_requests_total",
            route="/api/auth/sessions/<session_id>/",
            method="DELETE",
            status="404",
        )
        >= 1
    )
    assert value(samples, "tenantauth_http_requests_total", route="unmatched", status="404") >= 2
    routes = {dict(labels).get("route") for (_, labels) in samples}
    assert not any("12345" in r or "?" in r or "0000" in r for r in routes if r)


def test_no_metric_has_a_client_label_by_default(api_a, make_user, tenant_a):
    make_user(tenant_a, "vera")
    api_a.login("vera")
    samples = scrape()
    assert samples
    assert not any("client" in dict(labels) for (_, labels) in samples)


def test_the_client_label_when_it_is_turned_on(tenant_a):
    """The labels are fixed when the metrics are made, at start-up: another process."""
    out = run_in_another_process(
        "from django.test import Client\n"
        "from tests.conftest import ApiClientHandler\n"
        "c = Client(HTTP_HOST='acme.localhost')\n"
        "c.handler = ApiClientHandler(False)\n"
        "assert c.get('/api/hello').status_code == 200\n"
        # A login would write to the test database for good (another process, no rollback):
        # the service-level count alone, in the client's schema.
        "from django_tenants.utils import schema_context\n"
        "from core.observability import metrics\n"
        "with schema_context('acme'):\n"
        "    metrics.login_counted('failure')\n"
        "print(Client(HTTP_HOST='localhost').get('/metrics').content.decode())\n",
        env={"METRICS_CLIENT_LABEL": "true"},
    )
    samples = parse(out)
    acme = {"client": tenant_a.schema_name}
    assert value(samples, "tenantauth_http_requests_total", route="/api/hello", **acme) == 1
    assert value(samples, "tenantauth_logins_total", outcome="failure", **acme) == 1
    assert connection.schema_name == "public"
