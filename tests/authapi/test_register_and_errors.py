"""Register's 403s and 400s, the 400/404/405 shapes, and tenant_inactive on every route."""

from http import HTTPStatus

import pytest
from django_tenants.utils import schema_context

from authapi.models import Role, User
from tests.authapi.conftest import (
    ACCOUNTS_ROUTES,
    LOGIN_ROUTES,
    LOGOUT_ROUTES,
    PASSWORD,
    REFRESH_ROUTES,
    REGISTER_ROUTES,
    USER_ROUTES,
    VERIFY_ROUTES,
)

pytestmark = pytest.mark.django_db


def new(username, **extra):
    return {"username": username, "email": f"{username}@acme.test", "password": PASSWORD, **extra}


@pytest.mark.parametrize("role", ["staff", "admin"])
@pytest.mark.parametrize("actor_role", [None, "customer", "staff"])
def test_only_an_admin_may_create_staff_or_admin(api_a, tenant_a, make_user, role, actor_role):
    token = None
    if actor_role:
        make_user(tenant_a, f"actor-{actor_role}", role=actor_role)
        token = api_a.login(f"actor-{actor_role}")["access"]
    response = api_a.post("/api/auth/register/", new("climber", role=role), token=token)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "permission_denied"
    with schema_context(tenant_a.schema_name):
        assert not User.objects.filter(username="climber").exists()


@pytest.mark.parametrize("role", ["staff", "admin", "customer"])
def test_an_admin_may_create_any_role(api_a, tenant_a, make_user, role):
    make_user(tenant_a, "boss", role="admin")
    token = api_a.login("boss")["access"]
    response = api_a.post("/api/auth/register/", new(f"new-{role}", role=role), token=token)
    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["role"] == role
    with schema_context(tenant_a.schema_name):
        user = User.objects.get(username=f"new-{role}")
        assert user.is_staff == (role != Role.CUSTOMER)
        assert user.is_superuser == (role == Role.ADMIN)


def test_unknown_role_is_400(api_a):
    response = api_a.post("/api/auth/register/", new("x", role="superuser"))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["errors"][0]["field"] == "role"


@pytest.mark.parametrize(
    ("password", "fragment"),
    [("short", "too short"), ("password123", "too common"), ("83749201937", "entirely numeric")],
)
def test_weak_password_is_400_with_the_validator_message(api_a, password, fragment):
    response = api_a.post("/api/auth/register/", new("weakling", password=password))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    errors = response.json()["errors"]
    assert any(e["field"] == "password" and fragment in e["message"] for e in errors)


def test_password_too_similar_to_username_is_400(api_a):
    response = api_a.post("/api/auth/register/", new("marmaladesky", password="marmaladesky1"))
    assert response.status_code == HTTPStatus.BAD_REQUEST


@pytest.mark.parametrize(
    ("username", "email", "field"),
    [("ALICE", "other@acme.test", "username"), ("other", "Alice@ACME.test", "email")],
)
def test_duplicate_username_or_email_is_400_case_insensitively(
    api_a, tenant_a, make_user, username, email, field
):
    make_user(tenant_a, "alice", email="alice@acme.test")
    response = api_a.post(
        "/api/auth/register/", {"username": username, "email": email, "password": PASSWORD}
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_same_username_may_register_in_another_tenant(api_a, api_b, tenant_a, tenant_b, make_user):
    make_user(tenant_a, "alice")
    response = api_b.post("/api/auth/register/", new("alice"))
    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["client_id"] == tenant_b.pk


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        "null",
        '"string"',
        "{}",
        '{"username": 5, "password": "x"}',
        '{"username": "a"}',
        '{"username": "", "password": ""}',
        '{"username": "a", "password": null}',
        "\x00\xff",
    ],
)
def test_malformed_login_body_is_400_with_field_errors(api_a, tenant_a, body):
    response = api_a.post("/api/auth/token/", body)
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    payload = response.json()
    assert payload["code"] == "invalid"
    assert isinstance(payload["errors"], list) and payload["errors"]
    assert all(set(e) == {"field", "message"} for e in payload["errors"])


def test_missing_field_names_the_field(api_a):
    response = api_a.post("/api/auth/token/", {"username": "a"})
    assert {"field": "password", "message": "Field required"} in response.json()["errors"]


def test_unknown_route_under_api_is_json_404(api_a):
    response = api_a.get("/api/nope/")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {"detail": "Not Found", "code": "not_found"}


def test_wrong_method_is_json_405(api_a):
    response = api_a.get("/api/auth/token/")
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json()["code"] == "method_not_allowed"
    assert "POST" in response["Allow"]


EVERY_ROUTE = (
    [
        ("post", p)
        for p in LOGIN_ROUTES + REFRESH_ROUTES + VERIFY_ROUTES + LOGOUT_ROUTES + REGISTER_ROUTES
    ]
    + [("get", p) for p in USER_ROUTES + ACCOUNTS_ROUTES]
    + [("get", "/api/test-auth/"), ("post", "/api/test-auth/"), ("get", "/api/openapi.json")]
)


@pytest.mark.parametrize(("method", "path"), EVERY_ROUTE)
@pytest.mark.parametrize("with_token", [False, True])
def test_every_route_of_an_inactive_client_is_403_tenant_inactive(
    api_a, tenant_a, make_user, method, path, with_token
):
    make_user(tenant_a, "alice", role="admin")
    pair = api_a.login("alice")
    tenant_a.is_active = False
    tenant_a.save(update_fields=["is_active"])
    token = pair["access"] if with_token else None
    if method == "get":
        response = api_a.get(path, token=token)
    else:
        response = api_a.post(
            path, {"refresh": pair["refresh"], "token": pair["access"]}, token=token
        )
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "tenant_inactive"
