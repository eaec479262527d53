"""Session side: login/logout, role-based admin access and the edges between hosts."""

from http import HTTPStatus

import pytest
from django_tenants.utils import schema_context
from ninja_jwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from authapi.models import User
from authapi.services import user_create
from tests.authapi.conftest import PASSWORD, Api
from tests.conftest import ACME, GLOBEX, PUBLIC_HOST, host_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(public_tenant):
    with schema_context("public"):
        return user_create(
            username="operator", email="op@platform.test", password=PASSWORD, role="admin"
        )


def sign_in(http, username, password=PASSWORD, next_url=None):
    data = {"username": username, "password": password}
    path = "/login/" + (f"?next={next_url}" if next_url else "")
    return http.post(path, data)


def test_login_form_is_shown_on_every_host(http_public, http_a):
    for http in (http_public, http_a):
        response = http.get("/login/")
        assert response.status_code == HTTPStatus.OK
        assert b'name="username"' in response.content and b"csrfmiddlewaretoken" in response.content


def test_login_is_csrf_protected(tenant_a, make_user):
    make_user(tenant_a, "adm", role="admin")
    http = host_client(ACME.domain)
    http.handler.enforce_csrf_checks = True
    response = http.post("/login/", {"username": "adm", "password": PASSWORD})
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_login_redirects_to_admin_by_default_and_logout_ends_the_session(
    http_a, tenant_a, make_user
):
    make_user(tenant_a, "adm", role="admin")
    response = sign_in(http_a, "adm")
    assert response.status_code == HTTPStatus.FOUND and response["Location"] == "/admin/"
    assert http_a.get("/admin/").status_code == HTTPStatus.OK
    assert http_a.post("/logout/").status_code == HTTPStatus.FOUND
    assert http_a.get("/admin/").status_code == HTTPStatus.FOUND  # back to the login page


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/admin/authapi/user/", "/admin/authapi/user/"),
        ("https://evil.example.com/", "/admin/"),
        ("//evil.example.com/", "/admin/"),
        (f"http://{GLOBEX.domain}/admin/", "/admin/"),
    ],
)
def test_login_redirects_only_to_a_safe_next(
    http_a, tenant_a, tenant_b, make_user, next_url, expected
):
    make_user(tenant_a, "adm", role="admin")
    response = sign_in(http_a, "adm", next_url=next_url)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == expected


def test_platform_staff_manage_clients_on_the_public_admin(http_public, operator, tenant_a):
    sign_in(http_public, "operator")
    listing = http_public.get("/admin/tenants/client/")
    assert listing.status_code == HTTPStatus.OK
    assert ACME.name.encode() in listing.content
    assert http_public.get("/admin/tenants/domain/").status_code == HTTPStatus.OK
    change = http_public.get(f"/admin/tenants/client/{tenant_a.pk}/change/")
    assert change.status_code == HTTPStatus.OK and ACME.domain.encode() in change.content


@pytest.mark.parametrize("spec", [ACME, GLOBEX])
def test_tenant_admin_cannot_enter_the_public_admin(
    spec, tenant_a, tenant_b, make_user, http_public
):
    tenant = tenant_a if spec is ACME else tenant_b
    make_user(tenant, "tenantboss", role="admin")
    response = sign_in(http_public, "tenantboss")
    assert response.status_code == HTTPStatus.OK  # form again: no such user in public
    assert http_public.get("/admin/tenants/client/").status_code == HTTPStatus.FOUND


@pytest.mark.parametrize("spec", [ACME, GLOBEX])
def test_platform_staff_are_not_users_of_any_tenant(spec, operator, tenant_a, tenant_b):
    http = host_client(spec.domain)
    assert sign_in(http, "operator").status_code == HTTPStatus.OK
    assert http.get("/admin/").status_code == HTTPStatus.FOUND
    api = Api(http)
    response = api.post("/api/auth/token/", {"username": "operator", "password": PASSWORD})
    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_a_session_started_on_one_host_is_not_valid_on_another(
    tenant_a, tenant_b, make_user, operator
):
    make_user(tenant_a, "adm", role="admin")
    make_user(tenant_b, "adm", role="admin")  # same name and, likely, same id in B
    http_a = host_client(ACME.domain)
    sign_in(http_a, "adm")
    assert http_a.get("/admin/").status_code == HTTPStatus.OK
    cookie = http_a.cookies["sessionid"].value

    for host in (GLOBEX.domain, PUBLIC_HOST):
        other = host_client(host)
        other.cookies["sessionid"] = cookie
        assert other.get("/admin/").status_code == HTTPStatus.FOUND, host


def test_customer_cannot_enter_the_tenant_admin(http_a, tenant_a, make_user):
    make_user(tenant_a, "cust")
    sign_in(http_a, "cust")
    assert http_a.get("/admin/").status_code == HTTPStatus.FOUND


def test_staff_may_view_users_and_tokens_but_not_change_users(http_a, tenant_a, make_user):
    make_user(tenant_a, "helper", role="staff")
    victim = make_user(tenant_a, "victim")
    sign_in(http_a, "helper")
    assert http_a.get("/admin/").status_code == HTTPStatus.OK
    assert http_a.get("/admin/authapi/user/").status_code == HTTPStatus.OK
    assert http_a.get("/admin/token_blacklist/outstandingtoken/").status_code == HTTPStatus.OK
    assert http_a.get("/admin/token_blacklist/blacklistedtoken/").status_code == HTTPStatus.OK
    assert http_a.get("/admin/authapi/user/add/").status_code == HTTPStatus.FORBIDDEN
    # The change page is read-only for staff: posting a role change does nothing.
    http_a.post(f"/admin/authapi/user/{victim.pk}/change/", {"username": "victim", "role": "admin"})
    with schema_context(tenant_a.schema_name):
        assert User.objects.get(pk=victim.pk).role == "customer"


def test_setting_the_role_in_the_admin_sets_admin_access(http_a, tenant_a, make_user):
    make_user(tenant_a, "boss", role="admin")
    user = make_user(tenant_a, "promoted")
    sign_in(http_a, "boss")
    response = http_a.post(
        f"/admin/authapi/user/{user.pk}/change/",
        {
            "username": "promoted",
            "email": "promoted@acme.test",
            "role": "staff",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == HTTPStatus.FOUND, response.content[:3000]
    with schema_context(tenant_a.schema_name):
        promoted = User.objects.get(pk=user.pk)
        assert promoted.role == "staff" and promoted.is_staff and not promoted.is_superuser


def test_admin_revokes_a_refresh_token_and_it_no_longer_refreshes(http_a, tenant_a, make_user):
    make_user(tenant_a, "boss", role="admin")
    make_user(tenant_a, "holder")
    pair = Api(host_client(ACME.domain)).login("holder")
    with schema_context(tenant_a.schema_name):
        token = OutstandingToken.objects.get(user__username="holder")
    sign_in(http_a, "boss")
    response = http_a.post(
        "/admin/token_blacklist/outstandingtoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert response.status_code == HTTPStatus.FOUND
    with schema_context(tenant_a.schema_name):
        assert BlacklistedToken.objects.filter(token=token).exists()
    refreshed = Api(host_client(ACME.domain)).post(
        "/api/auth/token/refresh/", {"refresh": pair["refresh"]}
    )
    assert refreshed.status_code == HTTPStatus.UNAUTHORIZED


def test_blacklisted_tokens_are_read_only_in_the_admin(http_a, tenant_a, make_user):
    make_user(tenant_a, "boss", role="admin")
    sign_in(http_a, "boss")
    assert (
        http_a.get("/admin/token_blacklist/blacklistedtoken/add/").status_code
        == HTTPStatus.FORBIDDEN
    )
