"""X-Request-ID (SPEC §11): a sane incoming id is kept, anything else replaced by a new one, and
the id is echoed on every response: the API, admin pages, health checks, 404s."""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest

from tests.conftest import host_client

pytestmark = pytest.mark.django_db

NEW_ID = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize(
    "host,path,status",
    [
        ("acme.localhost", "/api/hello", HTTPStatus.OK),
        ("acme.localhost", "/api/user/", HTTPStatus.UNAUTHORIZED),
        ("acme.localhost", "/api/no-such-route/", HTTPStatus.NOT_FOUND),
        ("acme.localhost", "/admin/login/", HTTPStatus.OK),
        ("localhost", "/admin/login/", HTTPStatus.OK),
        ("acme.localhost", "/healthz", HTTPStatus.OK),
        ("no-such-client.example", "/readyz", HTTPStatus.OK),
        ("no-such-client.example", "/api/hello", HTTPStatus.NOT_FOUND),
        ("localhost", "/no-such-page/", HTTPStatus.NOT_FOUND),
    ],
)
def test_every_response_echoes_a_sane_id_and_makes_one_when_none_is_sent(
    tenant_a, public_tenant, host, path, status
):
    sent = "req-0f1e2d3c.4b5a_6978"
    response = host_client(host).get(path, HTTP_X_REQUEST_ID=sent)
    assert response.status_code == status
    assert response["X-Request-ID"] == sent
    made = host_client(host).get(path)
    assert NEW_ID.fullmatch(made["X-Request-ID"])
    assert made["X-Request-ID"] != host_client(host).get(path)["X-Request-ID"]


@pytest.mark.parametrize(
    "sent",
    [
        "3f2b8c1e-7d4a-4e9b-9c0d-1a2b3c4d5e6f",  # a uuid, as most proxies make it
        "a",
        "A" * 128,
    ],
)
def test_sane_ids_are_kept(tenant_a, sent):
    response = host_client("acme.localhost").get("/api/hello", HTTP_X_REQUEST_ID=sent)
    assert response["X-Request-ID"] == sent


@pytest.mark.parametrize(
    "sent",
    [
        "",
        "A" * 129,
        "has space",
        "line\nbreak",
        'quote"d',
        "key=value",
        "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.sig/with+slash",
        "ünïcode",
    ],
)
def test_an_insane_id_is_replaced_by_a_new_one(tenant_a, sent):
    response = host_client("acme.localhost").get("/api/hello", HTTP_X_REQUEST_ID=sent)
    assert response["X-Request-ID"] != sent
    assert NEW_ID.fullmatch(response["X-Request-ID"])
