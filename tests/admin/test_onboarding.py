"""Onboarding a client through the public admin's one form."""

from http import HTTPStatus

import pytest
from django_tenants.utils import schema_context, schema_exists

from authapi.models import User
from authapi.services import user_create
from tenants.models import Client, Domain
from tests.authapi.conftest import PASSWORD
from tests.conftest import ACME

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Umbrella",
    "schema_name": "umbrella",
    "domain": "umbrella.localhost",
    "admin_username": "first",
    "admin_email": "first@umbrella.test",
    "admin_password": "Umbr3lla-first-admin",
}


@pytest.fixture
def operator_http(http_public, public_tenant):
    with schema_context("public"):
        user_create(username="operator", email="op@platform.test", password=PASSWORD, role="admin")
    assert (
        http_public.post("/login/", {"username": "operator", "password": PASSWORD}).status_code
        == 302
    )
    return http_public


def test_add_form_onboards_the_client_completely(operator_http):
    response = operator_http.post("/admin/tenants/client/add/", FORM)
    assert response.status_code == HTTPStatus.FOUND, response.content[-3000:]
    client = Client.objects.get(schema_name="umbrella")
    assert client.name == "Umbrella" and client.is_active
    assert schema_exists("umbrella")
    assert Domain.objects.get(domain="umbrella.localhost").tenant == client
    with schema_context("umbrella"):
        first = User.objects.get(username="first")
        assert first.role == "admin" and first.check_password(FORM["admin_password"])
    listing = operator_http.get("/admin/tenants/client/")
    assert b"umbrella.localhost" in listing.content


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"schema_name": ACME.schema}, "schema_name", "already exists"),
        ({"domain": ACME.domain}, "domain", "already in use"),
        ({"schema_name": "Bad Name!"}, "schema_name", "invalid schema name"),
        ({"schema_name": "pg_evil"}, "schema_name", "invalid schema name"),
        ({"admin_password": "12345"}, "admin_password", "too short"),
    ],
)
def test_add_form_shows_errors_and_makes_nothing(
    operator_http, tenant_a, overrides, field, fragment
):
    before = Client.objects.count()
    response = operator_http.post("/admin/tenants/client/add/", {**FORM, **overrides})
    assert response.status_code == HTTPStatus.OK  # the form again
    errors = response.context["adminform"].form.errors
    assert field in errors and fragment in " ".join(errors[field])
    assert Client.objects.count() == before
    assert not Domain.objects.filter(domain="umbrella.localhost").exists()
    assert not schema_exists("umbrella")


def test_failure_part_way_through_the_admin_leaves_no_schema_and_no_domain(
    operator_http, monkeypatch
):
    import authapi.services

    def fail(**_):
        raise RuntimeError("forced failure after schema and domain were created")

    monkeypatch.setattr(authapi.services, "user_create", fail)
    response = operator_http.post("/admin/tenants/client/add/", FORM)
    assert response.status_code == HTTPStatus.OK
    assert b"nothing was created" in response.content
    assert not Client.objects.filter(schema_name="umbrella").exists()
    assert not Domain.objects.filter(domain="umbrella.localhost").exists()
    assert not schema_exists("umbrella")


def test_clients_list_shows_domain_active_flag_created_date_and_user_count(operator_http, tenant_a):
    response = operator_http.get("/admin/tenants/client/")
    content = response.content.decode()
    for column in ("primary domain", "Is active", "Created on", "users"):
        assert column.lower() in content.lower(), column
    assert ACME.domain in content


@pytest.mark.parametrize("typed", ["Umbrella-Alias.LOCALHOST", "umbrella-alias.localhost."])
def test_a_domain_added_in_the_admin_is_normalised_and_resolves(operator_http, tenant_a, typed):
    from tests.conftest import host_client

    response = operator_http.post(
        "/admin/tenants/domain/add/", {"domain": typed, "tenant": tenant_a.pk}
    )
    assert response.status_code == HTTPStatus.FOUND, response.content[-2000:]
    assert Domain.objects.filter(domain="umbrella-alias.localhost").exists()
    hello = host_client("umbrella-alias.localhost").get("/api/hello")
    assert hello.status_code == HTTPStatus.OK and hello.json()["client_id"] == tenant_a.pk


@pytest.mark.parametrize("typed", ["not a host", "-bad-.localhost", ACME.domain.upper()])
def test_a_bad_or_taken_domain_is_refused_in_the_admin(operator_http, tenant_a, typed):
    response = operator_http.post(
        "/admin/tenants/domain/add/", {"domain": typed, "tenant": tenant_a.pk}
    )
    assert response.status_code == HTTPStatus.OK  # the form again, with the error
    assert "domain" in response.context["adminform"].form.errors


def test_onboarding_normalises_the_primary_domain(operator_http):
    response = operator_http.post(
        "/admin/tenants/client/add/", {**FORM, "domain": "Umbrella.LocalHost"}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert Domain.objects.get(tenant__schema_name="umbrella").domain == "umbrella.localhost"


def test_onboarding_sets_the_allowed_origins_normalised(operator_http):
    response = operator_http.post(
        "/admin/tenants/client/add/",
        {**FORM, "allowed_origins": "https://App.Umbrella.test/, http://localhost:5173"},
    )
    assert response.status_code == HTTPStatus.FOUND
    client = Client.objects.get(schema_name="umbrella")
    assert client.allowed_origins == ["https://app.umbrella.test", "http://localhost:5173"]


def test_the_platform_admin_edits_a_clients_origins_and_refuses_a_bad_one(operator_http, tenant_a):
    url = f"/admin/tenants/client/{tenant_a.pk}/change/"
    page = operator_http.get(url)
    assert page.status_code == HTTPStatus.OK and b"allowed_origins" in page.content
    form = {
        "name": tenant_a.name,
        "is_active": "on",
        "allowed_origins": "https://App.Acme.test, http://localhost:5173",
        "domains-TOTAL_FORMS": "0",
        "domains-INITIAL_FORMS": "0",
        "signing_keys-TOTAL_FORMS": "0",
        "signing_keys-INITIAL_FORMS": "0",
    }
    bad = operator_http.post(
        url, {**form, "allowed_origins": "https://ok.test,javascript:alert(1)"}
    )
    assert bad.status_code == HTTPStatus.OK and b"is not an origin" in bad.content
    saved = operator_http.post(url, form)
    assert saved.status_code == HTTPStatus.FOUND, saved.content[-3000:]
    client = Client.objects.get(pk=tenant_a.pk)
    assert client.allowed_origins == ["https://app.acme.test", "http://localhost:5173"]
    Client.objects.filter(pk=tenant_a.pk).update(allowed_origins=[])
