"""What no route accepts, refused before it can do harm: NUL characters (400 on the field),
oversized bodies (413) and bodies that are not JSON (415), on every route that takes a body,
through the real middleware."""

import json
from http import HTTPStatus

import pytest
from django.conf import settings
from django_tenants.utils import schema_context

from authapi.models import User
from tests.admin.test_boundaries import sign_in
from tests.authapi.conftest import (
    LOGIN_ROUTES,
    LOGOUT_ROUTES,
    REFRESH_ROUTES,
    REGISTER_ROUTES,
    VERIFY_ROUTES,
)

pytestmark = pytest.mark.django_db

BODY_ROUTES = LOGIN_ROUTES + REFRESH_ROUTES + VERIFY_ROUTES + LOGOUT_ROUTES + REGISTER_ROUTES
TEXT_FIELDS = {
    **{path: ["username", "password"] for path in LOGIN_ROUTES},
    **{path: ["refresh"] for path in REFRESH_ROUTES + LOGOUT_ROUTES},
    **{path: ["token"] for path in VERIFY_ROUTES},
    **{
        path: ["username", "email", "password", "role", "first_name", "last_name"]
        for path in REGISTER_ROUTES
    },
}
VALID = {
    "username": "nul-tester",
    "email": "nul@acme.test",
    "password": "Valid-passw0rd-2026",
    "role": "customer",
    "first_name": "Nul",
    "last_name": "Tester",
    "refresh": "x.y.z",
    "token": "x.y.z",
}


def assert_error(response, status, code):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code and isinstance(body["detail"], str)
    return body


def test_there_are_sixteen_body_routes():
    assert len(BODY_ROUTES) == 16


@pytest.mark.parametrize(
    ("path", "field"), [(path, field) for path in BODY_ROUTES for field in TEXT_FIELDS[path]]
)
@pytest.mark.parametrize("where", ["start", "middle", "alone"])
def test_a_nul_in_any_text_field_is_400_on_that_field(api_a, tenant_a, path, field, where):
    body = {name: VALID[name] for name in TEXT_FIELDS[path]}
    body[field] = {"start": "\x00" + VALID[field], "middle": "ab\x00cd", "alone": "\x00"}[where]

    response = api_a.post(path, json.dumps(body))

    payload = assert_error(response, HTTPStatus.BAD_REQUEST, "invalid")
    assert {"field": field, "message": "Null characters are not allowed."} in payload["errors"]
    with schema_context(tenant_a.schema_name):
        assert not User.objects.filter(email="nul@acme.test").exists()


def test_a_nul_in_a_query_parameter_is_400_naming_it(api_a, tenant_a, make_user):
    make_user(tenant_a, "lister", role="staff")
    token = api_a.login("lister")["access"]
    response = api_a.get("/api/accounts/?limit=5%00&offset=0", token=token)
    payload = assert_error(response, HTTPStatus.BAD_REQUEST, "invalid")
    assert payload["errors"] == [{"field": "limit", "message": "Null characters are not allowed."}]


@pytest.mark.parametrize(
    "query",
    [
        "q=%00",
        "q=boss%00",
        "role__exact=%00",
        "is_active__exact=1%00",
        "o=1%00",
        "p=%00",
    ],
)
@pytest.mark.parametrize(
    "page", ["/admin/authapi/user/", "/admin/token_blacklist/outstandingtoken/"]
)
def test_a_nul_in_an_admin_changelist_filter_is_400_not_500(
    http_a, tenant_a, make_user, query, page
):
    make_user(tenant_a, "boss", role="admin")
    sign_in(http_a, "boss")
    http_a.raise_request_exception = False
    response = http_a.get(f"{page}?{query}")
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content[:300]
    assert b"postgres" not in response.content.lower()


def test_a_nul_in_the_session_login_form_is_not_a_500(http_a, tenant_a, make_user):
    http_a.raise_request_exception = False
    for data in ({"username": "bo\x00ss", "password": "x"}, {"username": "b", "password": "\x00"}):
        response = http_a.post("/login/", data)
        assert response.status_code == HTTPStatus.BAD_REQUEST


@pytest.mark.parametrize("path", BODY_ROUTES)
@pytest.mark.parametrize("size", [settings.API_MAX_BODY_BYTES + 1, 3 * 1024 * 1024])
def test_an_oversized_body_is_413(api_a, path, size):
    body = json.dumps({"username": "a" * size, "password": "x"})
    response = api_a.post(path, body)
    assert_error(response, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request_too_large")


@pytest.mark.parametrize("path", BODY_ROUTES)
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "",
    ],
)
def test_a_body_that_is_not_json_is_415(api_a, tenant_a, path, content_type):
    body = json.dumps({**VALID, "username": "plain-text-user"})
    response = api_a.http.post(path, body, content_type=content_type)
    assert_error(response, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    with schema_context(tenant_a.schema_name):
        assert not User.objects.filter(username="plain-text-user").exists()


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_json_with_or_without_parameters_is_accepted(api_a, tenant_a, content_type):
    body = json.dumps({**VALID, "username": "json-user", "email": "json@acme.test"})
    response = api_a.http.post("/api/auth/register/", body, content_type=content_type)
    assert response.status_code == HTTPStatus.CREATED, response.content
