"""The tenant admin's token pages: no token text to anyone, no filter that leaks it, and staff
cannot end an admin's sessions."""

from http import HTTPStatus

import pytest
from django_tenants.utils import schema_context
from ninja_jwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from tests.admin.test_boundaries import sign_in
from tests.authapi.conftest import Api
from tests.conftest import ACME, host_client

pytestmark = pytest.mark.django_db

OUTSTANDING = "/admin/token_blacklist/outstandingtoken/"
BLACKLISTED = "/admin/token_blacklist/blacklistedtoken/"


def _login(username):
    return Api(host_client(ACME.domain)).login(username)


def _token(tenant, username):
    with schema_context(tenant.schema_name):
        return OutstandingToken.objects.filter(user__username=username).latest("id")


@pytest.mark.parametrize("viewer_role", ["staff", "admin"])
def test_no_token_page_shows_a_token_value(http_a, tenant_a, make_user, viewer_role):
    make_user(tenant_a, "viewer", role=viewer_role)
    make_user(tenant_a, "boss", role="admin")
    pair = _login("boss")
    logged_out = _login("boss")
    Api(host_client(ACME.domain)).post("/api/logout/", {"refresh": logged_out["refresh"]})
    token = _token(tenant_a, "boss")
    with schema_context(tenant_a.schema_name):
        blacklisted_pk = BlacklistedToken.objects.get(token=token).pk
    sign_in(http_a, "viewer")

    pages = [
        OUTSTANDING,
        f"{OUTSTANDING}{token.pk}/change/",
        f"{OUTSTANDING}?q=boss",
        BLACKLISTED,
        f"{BLACKLISTED}{blacklisted_pk}/change/",
    ]
    for page in pages:
        response = http_a.get(page)
        assert response.status_code == HTTPStatus.OK, page
        html = response.content.decode()
        for secret in (pair["refresh"], logged_out["refresh"], token.token):
            # Neither the whole token nor its signature or payload part appears.
            for part in secret.split("."):
                assert part not in html, f"{page} shows token text"


def test_a_changelist_filter_cannot_probe_token_text(http_a, tenant_a, make_user):
    make_user(tenant_a, "viewer", role="staff")
    make_user(tenant_a, "boss", role="admin")
    _login("boss")
    token = _token(tenant_a, "boss")
    sign_in(http_a, "viewer")
    http_a.raise_request_exception = False  # as a real server answers: Django's 400
    for lookup in ("token__startswith", "jti__startswith", "user__password__startswith"):
        response = http_a.get(OUTSTANDING, {lookup: token.token[:20]})
        assert response.status_code == HTTPStatus.BAD_REQUEST, lookup


def test_a_user_list_filter_cannot_probe_password_hashes(http_a, tenant_a, make_user):
    make_user(tenant_a, "viewer", role="staff")
    sign_in(http_a, "viewer")
    http_a.raise_request_exception = False
    response = http_a.get("/admin/authapi/user/", {"password__startswith": "argon2"})
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_staff_cannot_revoke_an_admins_tokens_but_can_revoke_a_customers(
    http_a, tenant_a, make_user
):
    make_user(tenant_a, "helper", role="staff")
    make_user(tenant_a, "boss", role="admin")
    make_user(tenant_a, "holder")
    boss_pair, holder_pair = _login("boss"), _login("holder")
    boss_token, holder_token = _token(tenant_a, "boss"), _token(tenant_a, "holder")
    sign_in(http_a, "helper")

    response = http_a.post(
        OUTSTANDING,
        {"action": "revoke", "_selected_action": [boss_token.pk, holder_token.pk]},
        follow=True,
    )

    assert response.status_code == HTTPStatus.OK
    assert b"were not revoked: only an admin may" in response.content
    with schema_context(tenant_a.schema_name):
        assert not BlacklistedToken.objects.filter(token=boss_token).exists()
        assert BlacklistedToken.objects.filter(token=holder_token).exists()
    api = Api(host_client(ACME.domain))
    assert (
        api.post("/api/auth/token/refresh/", {"refresh": boss_pair["refresh"]}).status_code == 200
    )
    assert (
        api.post("/api/auth/token/refresh/", {"refresh": holder_pair["refresh"]}).status_code == 401
    )


def test_staff_cannot_delete_tokens(http_a, tenant_a, make_user):
    make_user(tenant_a, "helper", role="staff")
    make_user(tenant_a, "boss", role="admin")
    _login("boss")
    token = _token(tenant_a, "boss")
    sign_in(http_a, "helper")
    response = http_a.post(f"{OUTSTANDING}{token.pk}/delete/", {"post": "yes"})
    assert response.status_code == HTTPStatus.FORBIDDEN
    with schema_context(tenant_a.schema_name):
        assert OutstandingToken.objects.filter(pk=token.pk).exists()
