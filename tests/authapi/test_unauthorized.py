"""One test per reason for a 401. Every one has the same body shape and WWW-Authenticate."""

import base64
import json
from datetime import timedelta
from http import HTTPStatus

import jwt
import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context

from authapi.models import User
from tests.authapi.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def assert_401(response, code="token_not_valid"):
    assert response.status_code == HTTPStatus.UNAUTHORIZED, response.content
    assert response["WWW-Authenticate"] == "Bearer"
    body = response.json()
    assert body["code"] == code
    assert set(body) == {"detail", "code"}


@pytest.fixture
def alice(tenant_a, make_user):
    return make_user(tenant_a, "alice")


@pytest.fixture
def pair(api_a, alice):
    return api_a.login("alice")


def test_no_authorization_header_is_401(api_a, alice):
    assert_401(api_a.get("/api/user/"), code="not_authenticated")


@pytest.mark.parametrize(
    "header",
    ["Token abc", "Bearer", "Bearer ", "Bearer a b", "bearer", "Basic dXNlcjpwYXNz", "x" * 5000],
)
def test_malformed_authorization_header_is_401(api_a, alice, header):
    response = api_a.http.get("/api/user/", HTTP_AUTHORIZATION=header)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("garbage", ["abc", "a.b.c", "e30.e30.e30", "ü.ü.ü"])
def test_garbage_token_is_401(api_a, alice, garbage):
    assert_401(api_a.get("/api/user/", token=garbage))


def test_bad_signature_is_401(api_a, alice, pair):
    forged_claims = jwt.decode(pair["access"], options={"verify_signature": False})
    forged = jwt.encode(forged_claims, "not-the-signing-key-" * 3, algorithm="HS256")
    assert_401(api_a.get("/api/user/", token=forged))


def test_alg_none_is_401(api_a, alice, pair):
    claims = jwt.decode(pair["access"], options={"verify_signature": False})

    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    assert_401(api_a.get("/api/user/", token=unsigned))


def test_expired_access_token_is_401(api_a, alice, pair):
    assert api_a.get("/api/user/", token=pair["access"]).status_code == HTTPStatus.OK
    lifetime = settings.NINJA_JWT["ACCESS_TOKEN_LIFETIME"]
    with time_machine.travel(timezone.now() + lifetime + timedelta(seconds=1), tick=False):
        assert_401(api_a.get("/api/user/", token=pair["access"]))


def test_expired_refresh_token_is_401(api_a, alice, pair):
    lifetime = settings.NINJA_JWT["REFRESH_TOKEN_LIFETIME"]
    with time_machine.travel(timezone.now() + lifetime + timedelta(seconds=1), tick=False):
        assert_401(api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}))


@pytest.mark.parametrize(
    ("method", "path", "field", "kind"),
    [
        ("get", "/api/user/", None, "access"),
        ("get", "/api/accounts/", None, "access"),
        ("post", "/api/test-auth/", None, "access"),
        ("post", "/api/auth/token/refresh/", "refresh", "refresh"),
        ("post", "/api/auth/token/verify/", "token", "access"),
        ("post", "/api/auth/token/verify/", "token", "refresh"),
        ("post", "/api/auth/token/blacklist/", "refresh", "refresh"),
        ("post", "/api/auth/register/", None, "access"),
    ],
)
def test_token_of_another_tenant_is_401_like_a_forged_one(
    api_a, api_b, tenant_b, make_user, method, path, field, kind
):
    # Same username and user id space in B: only the client binding can refuse the token.
    make_user(tenant_b, "alice")
    token = api_b.login("alice")[kind]
    if field:
        response = api_a.post(path, {field: token})
    elif method == "get":
        response = api_a.get(path, token=token)
    else:
        response = api_a.post(
            path,
            {"username": "x1", "email": "x1@a.test", "password": PASSWORD, "role": "admin"},
            token=token,
        )
    assert_401(response)
    # ...and the very same token still works on its own tenant.
    if field:
        assert api_b.post(path, {field: token}).status_code in (HTTPStatus.OK,)


def test_blacklisted_refresh_token_is_401(api_a, pair):
    assert api_a.post("/api/auth/token/blacklist/", {"refresh": pair["refresh"]}).status_code == 200
    assert_401(api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}))
    assert_401(api_a.post("/api/auth/token/verify/", {"token": pair["refresh"]}))
    assert_401(api_a.post("/api/auth/token/blacklist/", {"refresh": pair["refresh"]}))


@pytest.mark.parametrize("logged_out", [True, False])
def test_refresh_token_whose_record_is_gone_is_401_on_verify(api_a, tenant_a, pair, logged_out):
    from ninja_jwt.token_blacklist.models import OutstandingToken

    if logged_out:
        assert (
            api_a.post("/api/auth/token/blacklist/", {"refresh": pair["refresh"]}).status_code
            == 200
        )
    with schema_context(tenant_a.schema_name):
        # As the purge or an admin's delete does (the blacklist row goes with it, by cascade).
        assert OutstandingToken.objects.filter(user__username="alice").delete()[0] >= 1
    assert_401(api_a.post("/api/auth/token/verify/", {"token": pair["refresh"]}))
    assert_401(api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}))


def test_rotated_refresh_token_is_401(api_a, pair):
    rotated = api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert rotated.status_code == HTTPStatus.OK
    # The new one works once...
    again = api_a.post("/api/auth/token/refresh/", {"refresh": rotated.json()["refresh"]})
    assert again.status_code == HTTPStatus.OK
    # ...and a rotated one presented again is a 401 (and, as reuse, ends the session: SPEC §7).
    assert_401(api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}))
    assert_401(api_a.post("/api/auth/token/refresh/", {"refresh": again.json()["refresh"]}))


def test_refresh_token_used_as_access_token_is_401(api_a, pair):
    assert_401(api_a.get("/api/user/", token=pair["refresh"]))


def test_access_token_used_as_refresh_token_is_401(api_a, pair):
    assert_401(api_a.post("/api/auth/token/refresh/", {"refresh": pair["access"]}))
    assert_401(api_a.post("/api/auth/token/blacklist/", {"refresh": pair["access"]}))


def _deactivate(tenant, user):
    with schema_context(tenant.schema_name):
        user.is_active = False
        user.save(update_fields=["is_active"])


def test_inactive_user_is_refused_at_once_on_every_token_route(api_a, tenant_a, alice, pair):
    _deactivate(tenant_a, alice)
    assert_401(api_a.get("/api/user/", token=pair["access"]))
    assert_401(api_a.post("/api/test-auth/", token=pair["access"]))
    assert_401(api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}))
    assert_401(api_a.post("/api/auth/token/verify/", {"token": pair["access"]}))
    assert_401(api_a.post("/api/auth/token/verify/", {"token": pair["refresh"]}))
    assert_401(api_a.post("/api/auth/token/blacklist/", {"refresh": pair["refresh"]}))
    # ...and cannot log in again.
    response = api_a.post("/api/auth/token/", {"username": "alice", "password": PASSWORD})
    assert_401(response, code="no_active_account")


def test_deleted_user_is_refused_at_once(api_a, tenant_a, alice, pair):
    with schema_context(tenant_a.schema_name):
        User.objects.filter(pk=alice.pk).delete()
    assert_401(api_a.get("/api/user/", token=pair["access"]))
    assert_401(api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}))
    assert_401(api_a.post("/api/auth/token/verify/", {"token": pair["access"]}))


def test_wrong_password_and_unknown_user_give_the_same_401(api_a, alice):
    wrong = api_a.post("/api/auth/token/", {"username": "alice", "password": "nope"})
    unknown = api_a.post("/api/auth/token/", {"username": "nobody", "password": "nope"})
    assert_401(wrong, code="no_active_account")
    assert (
        wrong.json()
        == unknown.json()
        == {
            "detail": "No active account found with the given credentials",
            "code": "no_active_account",
        }
    )


def test_unknown_user_still_runs_the_password_hasher(api_a, alice, monkeypatch):
    from django.contrib.auth.hashers import get_hasher

    hasher = type(get_hasher("default"))  # Argon2id in production, a fast one in tests
    calls = []
    real = hasher.encode

    def counting(self, password, salt, *args, **kwargs):
        calls.append(password)
        return real(self, password, salt, *args, **kwargs)

    monkeypatch.setattr(hasher, "encode", counting)
    api_a.post("/api/auth/token/", {"username": "nobody", "password": "guess"})
    assert calls == ["guess"]
