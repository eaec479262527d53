"""One test per route and alias of SPEC §3, each with its exact response shape."""

import json
from http import HTTPStatus

import jwt
import pytest

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
from tests.conftest import ACME

pytestmark = pytest.mark.django_db


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


@pytest.mark.parametrize("path", LOGIN_ROUTES)
def test_login_route_returns_the_pair_with_user_and_tenant(api_a, tenant_a, make_user, path):
    user = make_user(tenant_a, "alice")
    response = api_a.post(path, {"username": "alice", "password": PASSWORD})
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {
        "access",
        "refresh",
        "user_id",
        "username",
        "email",
        "role",
        "client_id",
        "client_name",
    }
    assert body["user_id"] == user.pk
    assert body["username"] == "alice"
    assert body["email"] == "alice@acme.test"
    assert body["role"] == "customer"
    assert body["client_id"] == tenant_a.pk
    assert body["client_name"] == ACME.name
    for kind, token in (("access", body["access"]), ("refresh", body["refresh"])):
        c = claims(token)
        assert c["token_type"] == kind
        assert c["user_id"] == user.pk
        assert c["client_id"] == tenant_a.pk and c["client_name"] == ACME.name
        assert {"exp", "iat", "jti"} <= set(c)


def test_login_accepts_the_email_case_insensitively(api_a, tenant_a, make_user):
    make_user(tenant_a, "carol", email="Carol@Acme.Test")
    response = api_a.post("/api/auth/token/", {"username": "CAROL@acme.test", "password": PASSWORD})
    assert response.status_code == HTTPStatus.OK
    assert response.json()["username"] == "carol"


def test_login_accepts_the_username_case_insensitively(api_a, tenant_a, make_user):
    make_user(tenant_a, "dave")
    assert (
        api_a.post("/api/auth/token/", {"username": "DAVE", "password": PASSWORD}).status_code
        == 200
    )


@pytest.mark.parametrize("path", REFRESH_ROUTES)
def test_refresh_route_rotates(api_a, tenant_a, make_user, path):
    make_user(tenant_a, "alice")
    pair = api_a.login("alice")
    response = api_a.post(path, {"refresh": pair["refresh"]})
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {"access", "refresh"}
    assert body["refresh"] != pair["refresh"]
    assert claims(body["refresh"])["client_id"] == tenant_a.pk
    assert claims(body["access"])["client_name"] == ACME.name
    again = api_a.post(path, {"refresh": pair["refresh"]})
    assert again.status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize("path", VERIFY_ROUTES)
@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_verify_route_accepts_a_valid_token_of_this_tenant(api_a, tenant_a, make_user, path, kind):
    make_user(tenant_a, "alice")
    pair = api_a.login("alice")
    response = api_a.post(path, {"token": pair[kind]})
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {}


@pytest.mark.parametrize("path", LOGOUT_ROUTES)
def test_logout_route_blacklists_the_refresh_token(api_a, tenant_a, make_user, path):
    make_user(tenant_a, "alice")
    pair = api_a.login("alice")
    response = api_a.post(path, {"refresh": pair["refresh"]})
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"detail": "Logged out"}
    assert api_a.post(path, {"refresh": pair["refresh"]}).status_code == HTTPStatus.UNAUTHORIZED
    refreshed = api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert refreshed.status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize("path", REGISTER_ROUTES)
def test_register_route_creates_a_logged_in_customer(api_a, tenant_a, path):
    response = api_a.post(
        path,
        {
            "username": "newbie",
            "email": "newbie@acme.test",
            "password": PASSWORD,
            "first_name": "New",
            "last_name": "Bie",
        },
    )
    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert body["detail"] == "User registered successfully"
    assert body["username"] == "newbie" and body["role"] == "customer"
    assert body["client_id"] == tenant_a.pk and body["client_name"] == ACME.name
    me = api_a.get("/api/user/", token=body["access"])
    assert me.status_code == HTTPStatus.OK
    assert me.json()["first_name"] == "New"


@pytest.mark.parametrize("path", USER_ROUTES)
def test_current_user_route(api_a, tenant_a, make_user, path):
    user = make_user(tenant_a, "alice", first_name="Alice", last_name="Liddell")
    pair = api_a.login("alice")
    response = api_a.get(path, token=pair["access"])
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {
        "user_id",
        "username",
        "email",
        "first_name",
        "last_name",
        "role",
        "client_id",
        "client_name",
        "is_active",
        "date_joined",
        "last_login",
    }
    assert body["user_id"] == user.pk
    assert (body["first_name"], body["last_name"]) == ("Alice", "Liddell")
    assert body["client_id"] == tenant_a.pk and body["client_name"] == ACME.name
    assert body["is_active"] is True
    assert body["last_login"] is not None  # set by the login


@pytest.mark.parametrize("method", ["get", "post"])
def test_auth_self_test_route(api_a, tenant_a, make_user, method):
    make_user(tenant_a, "alice")
    pair = api_a.login("alice")
    response = getattr(api_a, method)("/api/test-auth/", token=pair["access"])
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "message": "JWT authentication is working",
        "authenticated": True,
        "user": "alice",
    }


@pytest.mark.parametrize("path", ACCOUNTS_ROUTES)
def test_accounts_route_lists_newest_first_with_pagination(api_a, tenant_a, make_user, path):
    make_user(tenant_a, "staffer", role="staff")
    for name in ("u1", "u2", "u3"):
        make_user(tenant_a, name)
    token = api_a.login("staffer")["access"]
    response = api_a.get(f"{path}?limit=2&offset=0", token=token)
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["count"] == 5  # owner, staffer, u1..u3
    assert [i["username"] for i in body["items"]] == ["u3", "u2"]
    assert set(body["items"][0]) == {
        "user_id",
        "username",
        "email",
        "role",
        "is_active",
        "date_joined",
    }
    second = api_a.get(f"{path}?limit=2&offset=2", token=token).json()
    assert [i["username"] for i in second["items"]] == ["u1", "staffer"]


def test_accounts_is_403_for_a_customer(api_a, tenant_a, make_user):
    make_user(tenant_a, "cust")
    response = api_a.get("/api/accounts/", token=api_a.login("cust")["access"])
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "limit=abc"])
def test_accounts_bad_pagination_is_400(api_a, tenant_a, make_user, query):
    make_user(tenant_a, "adm", role="admin")
    response = api_a.get(f"/api/accounts/?{query}", token=api_a.login("adm")["access"])
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid"


def test_openapi_documents_canonical_routes_with_bearer_and_hides_aliases(api_a):
    response = api_a.get("/api/openapi.json")
    assert response.status_code == HTTPStatus.OK
    doc = response.json()
    paths = set(doc["paths"])
    assert {
        "/api/auth/token/",
        "/api/auth/token/refresh/",
        "/api/auth/token/verify/",
        "/api/auth/token/blacklist/",
        "/api/auth/register/",
        "/api/user/",
        "/api/test-auth/",
        "/api/accounts/",
    } <= paths
    assert "/api/token/" not in paths and "/auth/token/" not in paths
    schemes = doc["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    assert "LoginIn" in doc["components"]["schemas"]


def test_docs_page_is_browsable(api_a):
    response = api_a.http.get("/api/docs")
    assert response.status_code == HTTPStatus.OK
    assert b"openapi.json" in response.content


def test_openapi_document_is_valid_for_openapi_spec_validator(api_a):
    from openapi_spec_validator import validate

    validate(api_a.get("/api/openapi.json").json())  # raises on any error


def test_openapi_document_says_how_to_call_each_operation(api_a):
    doc = api_a.get("/api/openapi.json").json()
    assert doc["servers"] and all(s["url"] for s in doc["servers"])
    schemes = doc["components"]["securitySchemes"]
    assert set(schemes) == {"BearerAuth", "TokenAuth", "CookieAuth"}
    assert schemes["BearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    operation_ids = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            operation_ids.append(op["operationId"])
            assert "security" in op, f"{method} {path} does not say whether it needs a token"
            responses = op["responses"]
            # Cookie mode's CSRF token and logout, and the JWKS, take no credentials that could
            # be refused.
            if path not in (
                "/api/auth/cookie/csrf/",
                "/api/auth/cookie/logout/",
                "/.well-known/jwks.json",
            ):
                assert responses["401"]["headers"]["WWW-Authenticate"], f"{method} {path}"
            if "requestBody" in op:
                assert {"413", "415"} <= set(responses), f"{method} {path}"
            if "429" in responses:
                assert responses["429"]["headers"]["Retry-After"]
    assert len(operation_ids) == len(set(operation_ids))
    anonymous = {
        "/api/auth/token/",
        "/api/auth/token/refresh/",
        "/api/auth/token/verify/",
    }
    for path in anonymous:
        assert doc["paths"][path]["post"]["security"] == []
    # Logout takes a refresh token in the body, or deletes the API key it is sent with.
    assert doc["paths"]["/api/auth/token/blacklist/"]["post"]["security"] == [{}, {"TokenAuth": []}]
    assert {} in doc["paths"]["/api/auth/register/"]["post"]["security"]  # token optional
    assert doc["paths"]["/api/user/"]["get"]["security"] == [
        {"BearerAuth": []},
        {"TokenAuth": []},
        {"CookieAuth": []},
    ]
    token_scheme = doc["components"]["securitySchemes"]["TokenAuth"]
    assert token_scheme == {
        **token_scheme,
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
    }
    assert doc["paths"]["/api/auth/password/change/"]["post"]["security"] == [
        {"BearerAuth": []},
        {"CookieAuth": []},
    ]


def test_register_schema_documents_what_the_route_refuses(api_a):
    """Input the document refuses, the route refuses too, and the reverse for its bounds."""
    doc = api_a.get("/api/openapi.json").json()
    fields = doc["components"]["schemas"]["RegisterIn"]["properties"]
    assert fields["email"]["format"] == "email"
    assert fields["password"]["minLength"] == 8
    base = {"username": "schema-user", "email": "schema@acme.test", "password": "Schema-pass-2026"}
    refused = [
        {**base, "email": "not-an-email"},
        {**base, "password": "Sh0rt!"},
        {**base, "username": "has space"},
        {**base, "role": "superuser"},
    ]
    for body in refused:
        response = api_a.post("/api/auth/register/", body)
        assert response.status_code == HTTPStatus.BAD_REQUEST, body
    assert api_a.post("/api/auth/register/", base).status_code == HTTPStatus.CREATED


def test_a_token_checked_in_another_tenants_schema_fails_loudly(
    api_a, tenant_a, tenant_b, make_user
):
    """The chokepoint insists the connection is in the token's client's schema: a caller that
    forgot to switch gets an error, never an answer from another tenant's rows."""
    from authapi import tokens
    from core.tenancy import dangerously_in_schema

    make_user(tenant_a, "chokepoint")
    access = api_a.login("chokepoint")["access"]
    with dangerously_in_schema(tenant_b.schema_name), pytest.raises(tokens.TenantMismatch):
        tokens.token_for_client(access, tokens.AccessToken, tenant_a)


def test_the_openapi_document_has_no_duplicate_keys(api_a):
    """Swagger UI (js-yaml) refuses a document with a key twice, which json.loads would hide."""

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicate keys: {keys}"
        return dict(pairs)

    json.loads(api_a.get("/api/openapi.json").content, object_pairs_hook=no_duplicates)
