from http import HTTPStatus

import pytest

from authapi.models import User
from authapi.services import user_create

pytestmark = pytest.mark.django_db


def test_same_username_can_exist_in_two_tenants(tenant_a, tenant_b, in_schema):
    with in_schema(tenant_a):
        user_create(username="alice", email="alice@acme.test", password="Str0ng-pass-A")
    with in_schema(tenant_b):
        user_create(username="alice", email="alice@globex.test", password="Str0ng-pass-B")

    with in_schema(tenant_a):
        assert User.objects.get(username="alice").email == "alice@acme.test"
    with in_schema(tenant_b):
        assert User.objects.get(username="alice").email == "alice@globex.test"


def test_user_of_one_tenant_is_invisible_from_the_other_through_the_orm(
    tenant_a, tenant_b, public_tenant, in_schema
):
    with in_schema(tenant_a):
        user_create(username="only-in-acme", email="o@acme.test", password="Str0ng-pass-A")
    with in_schema(tenant_b):
        assert not User.objects.filter(username="only-in-acme").exists()
    with in_schema(public_tenant):
        assert not User.objects.filter(username="only-in-acme").exists()


def test_user_of_one_tenant_cannot_sign_in_on_the_other_over_http(
    tenant_a, tenant_b, http_a, http_b, in_schema
):
    with in_schema(tenant_a):
        user_create(username="bob", email="bob@acme.test", password="Str0ng-pass-A", role="admin")

    other = http_b.post("/login/", {"username": "bob", "password": "Str0ng-pass-A"})
    assert other.status_code == HTTPStatus.OK  # the form again, with an error
    assert "_auth_user_id" not in http_b.session

    own = http_a.post("/login/", {"username": "bob", "password": "Str0ng-pass-A"})
    assert own.status_code == HTTPStatus.FOUND
    assert http_a.get("/admin/").status_code == HTTPStatus.OK
