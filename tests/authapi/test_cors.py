"""CORS per client (SPEC §8) through the real middleware: an origin a client lists gets the CORS
headers on that client's host only, on the API's paths only; anything else gets none."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.core.management import call_command

from tenants.models import Client
from tenants.origins import origin_normalize

pytestmark = pytest.mark.django_db

APP = "https://app.acme.test"
OTHER = "https://app.globex.test"


@pytest.fixture
def origins(tenant_a, tenant_b):
    for tenant, origin in ((tenant_a, APP), (tenant_b, OTHER)):
        client = Client.objects.get(pk=tenant.pk)
        client.allowed_origins = [origin, "http://localhost:5173"]
        client.save()
    yield
    Client.objects.filter(pk__in=[tenant_a.pk, tenant_b.pk]).update(allowed_origins=[])


def preflight(http, path, origin, method="POST", headers="authorization, content-type"):
    return http.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


@pytest.mark.parametrize("path", ["/api/auth/token/", "/auth/token/", "/api/user/"])
def test_a_preflight_from_an_allowed_origin_is_answered_with_what_it_may_send(
    http_a, origins, path
):
    response = preflight(http_a, path, APP)
    assert response.status_code in (HTTPStatus.OK, HTTPStatus.NO_CONTENT)
    assert response["Access-Control-Allow-Origin"] == APP
    assert response["Access-Control-Allow-Credentials"] == "true"
    allowed = {h.strip().lower() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "x-csrftoken"} <= allowed
    methods = set(response["Access-Control-Allow-Methods"].split(", "))
    assert {"GET", "POST", "DELETE", "OPTIONS"} <= methods
    assert int(response["Access-Control-Max-Age"]) > 0
    assert "origin" in response["Vary"].lower()


def test_an_actual_request_from_an_allowed_origin_carries_the_headers_errors_included(
    api_a, origins
):
    ok = api_a.get("/api/hello", HTTP_ORIGIN=APP)
    refused = api_a.get("/api/user/", HTTP_ORIGIN=APP)  # no credentials: 401
    for response in (ok, refused):
        assert response["Access-Control-Allow-Origin"] == APP
        assert response["Access-Control-Allow-Credentials"] == "true"
        assert "origin" in response["Vary"].lower()
    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    assert "WWW-Authenticate" in refused["Access-Control-Expose-Headers"]


@pytest.mark.parametrize(
    "origin",
    [
        OTHER,  # allowed for another client: worthless here
        "https://evil.test",
        "https://app.acme.test.evil.test",
        "http://app.acme.test",  # another scheme
        "https://app.acme.test:8443",  # another port
        "null",
    ],
)
def test_an_origin_the_client_does_not_list_gets_no_cors_headers(http_a, api_a, origins, origin):
    response = preflight(http_a, "/api/auth/token/", origin)
    assert "Access-Control-Allow-Origin" not in response
    actual = api_a.get("/api/hello", HTTP_ORIGIN=origin)
    assert "Access-Control-Allow-Origin" not in actual
    assert "Access-Control-Allow-Credentials" not in actual


def test_the_other_client_allows_its_own_origin_on_its_own_host(http_a, http_b, origins):
    assert preflight(http_b, "/api/auth/token/", OTHER)["Access-Control-Allow-Origin"] == OTHER
    assert "Access-Control-Allow-Origin" not in preflight(http_a, "/api/auth/token/", OTHER)


def test_pages_outside_the_api_get_no_cors_headers(http_a, origins):
    for path in ("/admin/", "/login/", "/healthz"):
        response = http_a.get(path, HTTP_ORIGIN=APP)
        assert "Access-Control-Allow-Origin" not in response, path


def test_a_change_of_origins_applies_at_once(http_a, api_a, tenant_a, origins):
    api_a.get("/api/hello", HTTP_ORIGIN=APP)  # the client is cached in this process now
    client = Client.objects.get(pk=tenant_a.pk)
    client.allowed_origins = []
    client.save()
    assert "Access-Control-Allow-Origin" not in api_a.get("/api/hello", HTTP_ORIGIN=APP)


@pytest.mark.parametrize(
    "given,stored",
    [
        ("https://App.Acme.test/", "https://app.acme.test"),
        ("https://app.acme.test:443", "https://app.acme.test"),
        ("http://localhost:5173", "http://localhost:5173"),
        ("http://127.0.0.1:5173", "http://127.0.0.1:5173"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_origins_are_stored_as_browsers_send_them(given, stored):
    assert origin_normalize(given) == stored


@pytest.mark.parametrize(
    "bad",
    [
        "app.acme.test",
        "ftp://app.acme.test",
        "https://app.acme.test/path",
        "https://app.acme.test?x=1",
        "https://user@app.acme.test",
        "https://",
        "https://exa mple.test",
        "https://app.acme.test:99999",
        "*",
        "null",
    ],
)
def test_what_is_not_an_origin_is_refused(bad):
    with pytest.raises(ValueError):
        origin_normalize(bad)


def test_create_client_sets_allowed_origins_and_refuses_a_bad_one_creating_nothing(
    public_tenant, capsys
):
    from django_tenants.utils import schema_exists

    args = [
        "--admin-username",
        "admin",
        "--admin-email",
        "a@o.test",
        "--admin-password",
        "Pw-for-origins-2026",
    ]
    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "create_client",
            "--name",
            "Bad Origin",
            "--schema",
            "badorigin",
            "--domain",
            "badorigin.localhost",
            "--allowed-origin",
            "https://ok.test",
            "--allowed-origin",
            "not an origin",
            *args,
        )
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "not an origin" in err and "\n" not in err
    assert not Client.objects.filter(schema_name="badorigin").exists()
    assert not schema_exists("badorigin")
    call_command(
        "create_client",
        "--name",
        "Origins Co",
        "--schema",
        "originsco",
        "--domain",
        "originsco.localhost",
        "--allowed-origin",
        "https://App.Originsco.test/",
        "--allowed-origin",
        "http://localhost:5173",
        *args,
    )
    client = Client.objects.get(schema_name="originsco")
    assert client.allowed_origins == ["https://app.originsco.test", "http://localhost:5173"]
    from tenants.services import client_delete

    client_delete(client=client)
