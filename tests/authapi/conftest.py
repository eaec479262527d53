"""Helpers for the JSON API tests: users in a tenant, JSON calls through the real middleware."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django_tenants.utils import schema_context

from authapi.models import User
from authapi.services import user_create
from tests.conftest import ACME, GLOBEX

PASSWORD = "C0rrect-horse-battery"

LOGIN_ROUTES = ["/api/auth/token/", "/api/token/", "/api/login/", "/auth/token/"]
REFRESH_ROUTES = ["/api/auth/token/refresh/", "/api/token/refresh/", "/auth/token/refresh/"]
VERIFY_ROUTES = ["/api/auth/token/verify/", "/api/token/verify/"]
LOGOUT_ROUTES = [
    "/api/auth/token/blacklist/",
    "/api/token/blacklist/",
    "/api/logout/",
    "/auth/token/blacklist/",
]
REGISTER_ROUTES = ["/api/auth/register/", "/api/register/", "/auth/register/"]
USER_ROUTES = ["/api/user/", "/api/profile/"]
ACCOUNTS_ROUTES = ["/api/accounts/", "/api/view-accounts/", "/auth/view-accounts/"]


class Api:
    """JSON calls on one tenant host."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def post(self, path: str, body: Any = None, token: str | None = None, **extra: Any):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        data = body if isinstance(body, (str, bytes)) else json.dumps(body or {})
        return self.http.post(path, data, content_type="application/json", **headers, **extra)

    def get(self, path: str, token: str | None = None, **extra: Any):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        return self.http.get(path, **headers, **extra)

    def login(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        response = self.post("/api/auth/token/", {"username": username, "password": password})
        assert response.status_code == 200, response.content
        return response.json()


@pytest.fixture
def api_a(http_a: HttpClient) -> Api:
    return Api(http_a)


@pytest.fixture
def api_b(http_b: HttpClient) -> Api:
    return Api(http_b)


@pytest.fixture
def make_user() -> Callable[..., User]:
    def make(tenant, username: str, role: str = "customer", **fields: Any) -> User:
        with schema_context(tenant.schema_name):
            return user_create(
                username=username,
                email=fields.pop("email", f"{username}@{tenant.schema_name}.test"),
                password=fields.pop("password", PASSWORD),
                role=role,
                **fields,
            )

    return make


@pytest.fixture
def clean_tenant_tables() -> Iterator[None]:
    """For transactional tests: their commits to tenant schemas outlive the public-table flush."""
    yield
    for schema in (ACME.schema, GLOBEX.schema):
        with schema_context(schema), connection.cursor() as cursor:
            cursor.execute("DELETE FROM token_blacklist_blacklistedtoken")
            cursor.execute("DELETE FROM token_blacklist_outstandingtoken")
            cursor.execute("DELETE FROM authapi_session")
            cursor.execute("DELETE FROM authapi_apitoken")
            cursor.execute("DELETE FROM authapi_user WHERE username <> 'owner'")


def keys_made_after(tenant, moment) -> None:
    """Pretend the tenant's key pairs were made at `moment` (an upgrade from HS256 then): HS256
    tokens issued before it are accepted until they expire (signing.jws)."""
    from signing.keyring import keyring_invalidate
    from signing.models import SigningKey

    SigningKey.objects.filter(client_id=tenant.pk).update(created_at=moment)
    keyring_invalidate(tenant.pk)
