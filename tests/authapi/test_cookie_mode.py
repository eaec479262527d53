"""Cookie mode (SPEC §8) through the real middleware, with CSRF checks enforced as a browser's
requests get them: the cookies' attributes as sent in Set-Cookie, the access cookie on Bearer
routes, CSRF on unsafe cookie requests only, rotation and reuse, and a logout that always clears
both cookies."""

from __future__ import annotations

import json
from datetime import timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from django.test import Client as HttpClient
from django_tenants.utils import schema_context

from authapi.models import Session
from authapi.tokens import ClientRefreshToken
from tests.authapi.conftest import PASSWORD
from tests.conftest import ACME, GLOBEX, host_client

pytestmark = pytest.mark.django_db

LOGIN = "/api/auth/cookie/login/"
REFRESH = "/api/auth/cookie/refresh/"
LOGOUT = "/api/auth/cookie/logout/"


@pytest.fixture
def browser_a(tenant_a) -> HttpClient:
    return host_client(ACME.domain, enforce_csrf_checks=True)


@pytest.fixture
def carol(tenant_a, make_user):
    return make_user(tenant_a, "carol")


def post(http: HttpClient, path: str, body: Any = None, csrf: str | None = None, **extra: Any):
    headers = {"HTTP_X_CSRFTOKEN": csrf} if csrf else {}
    return http.post(
        path,
        json.dumps(body) if body is not None else "",
        content_type="application/json",
        **headers,
        **extra,
    )


def login(http: HttpClient, username: str = "carol", **extra: Any) -> dict[str, Any]:
    response = post(http, LOGIN, {"username": username, "password": PASSWORD}, **extra)
    assert response.status_code == HTTPStatus.OK, response.content
    return {"response": response, **response.json()}


def test_login_sets_httponly_cookies_with_the_specs_attributes_and_returns_no_token(
    browser_a, carol, settings
):
    done = login(browser_a)
    body = done["response"].json()
    assert "access" not in body and "refresh" not in body
    assert body["username"] == "carol" and body["client_name"] == "Acme Corp"
    assert body["access_expires_at"] and body["csrf_token"]
    cookies = done["response"].cookies
    access, refresh, csrf = cookies["access_token"], cookies["refresh_token"], cookies["csrftoken"]
    lifetimes = settings.NINJA_JWT
    assert access["httponly"] and access["path"] == "/" and access["samesite"] == "Lax"
    assert int(access["max-age"]) == lifetimes["ACCESS_TOKEN_LIFETIME"].total_seconds()
    assert refresh["httponly"] and refresh["path"] == "/api/auth/cookie/"
    assert refresh["samesite"] == "Strict"
    assert int(refresh["max-age"]) == lifetimes["REFRESH_TOKEN_LIFETIME"].total_seconds()
    assert not csrf["httponly"] and csrf["path"] == "/" and csrf["samesite"] == "Lax"
    for morsel in (access, refresh, csrf):
        assert not morsel["secure"] and not morsel["domain"]  # plain HTTP, host-only
    claims = jwt.decode(access.value, options={"verify_signature": False})
    assert claims["token_type"] == "access" and claims["sid"]


def test_over_https_every_cookie_is_secure(browser_a, carol):
    cookies = login(browser_a, secure=True)["response"].cookies
    assert all(cookies[name]["secure"] for name in ("access_token", "refresh_token", "csrftoken"))
    behind_proxy = login(browser_a, HTTP_X_FORWARDED_PROTO="https")["response"].cookies
    assert all(behind_proxy[n]["secure"] for n in ("access_token", "refresh_token", "csrftoken"))


def test_samesite_none_and_a_cookie_domain_from_the_settings(browser_a, carol, settings):
    settings.AUTH_COOKIE_SAMESITE = "None"
    settings.AUTH_COOKIE_DOMAIN = ".acme.localhost"
    cookies = login(browser_a)["response"].cookies
    for name in ("access_token", "refresh_token", "csrftoken"):
        assert cookies[name]["samesite"] == "None" and cookies[name]["secure"], name
        assert cookies[name]["domain"] == ".acme.localhost", name


def test_the_access_cookie_authenticates_bearer_routes_and_unsafe_ones_need_csrf(browser_a, carol):
    csrf = login(browser_a)["csrf_token"]
    assert browser_a.get("/api/user/").json()["username"] == "carol"
    refused = post(browser_a, "/api/test-auth/")
    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert refused.json()["code"] == "csrf_failed"
    wrong = post(browser_a, "/api/test-auth/", csrf="x" * 64)
    assert wrong.status_code == HTTPStatus.FORBIDDEN and wrong.json()["code"] == "csrf_failed"
    assert post(browser_a, "/api/test-auth/", csrf=csrf).json()["user"] == "carol"


def test_an_allowed_origin_passes_the_csrf_origin_check_and_another_does_not(
    browser_a, tenant_a, carol
):
    from tenants.models import Client

    Client.objects.filter(pk=tenant_a.pk).update(allowed_origins=["http://app.acme.localhost:5173"])
    client = Client.objects.get(pk=tenant_a.pk)
    client.save()  # drops the cached client in every process
    try:
        csrf = login(browser_a)["csrf_token"]
        ok = post(
            browser_a, "/api/test-auth/", csrf=csrf, HTTP_ORIGIN="http://app.acme.localhost:5173"
        )
        assert ok.status_code == HTTPStatus.OK
        evil = post(browser_a, "/api/test-auth/", csrf=csrf, HTTP_ORIGIN="http://evil.localhost")
        assert evil.status_code == HTTPStatus.FORBIDDEN and evil.json()["code"] == "csrf_failed"
    finally:
        Client.objects.filter(pk=tenant_a.pk).update(allowed_origins=[])


def test_bearer_and_token_requests_need_no_csrf_token(browser_a, api_a, carol):
    access = api_a.login("carol")["access"]
    bearer = post(browser_a, "/api/test-auth/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert bearer.status_code == HTTPStatus.OK
    key = api_a.post("/api/auth/api-tokens/", {"name": "k"}, token=access).json()["token"]
    token = post(browser_a, "/api/test-auth/", HTTP_AUTHORIZATION=f"Token {key}")
    assert token.status_code == HTTPStatus.OK


def test_refresh_rotates_both_cookies_and_needs_csrf(browser_a, carol):
    first = login(browser_a)
    old_refresh = first["response"].cookies["refresh_token"].value
    assert post(browser_a, REFRESH).json()["code"] == "csrf_failed"
    rotated = post(browser_a, REFRESH, csrf=first["csrf_token"])
    assert rotated.status_code == HTTPStatus.OK
    body = rotated.json()
    assert set(body) == {"access_expires_at", "csrf_token"}
    new_refresh = rotated.cookies["refresh_token"].value
    assert new_refresh and new_refresh != old_refresh
    assert rotated.cookies["access_token"].value != first["response"].cookies["access_token"].value
    assert browser_a.get("/api/user/").status_code == HTTPStatus.OK


def test_reusing_a_rotated_refresh_cookie_ends_the_session_and_clears_the_cookies(
    browser_a, tenant_a, carol
):
    first = login(browser_a)
    old_refresh = first["response"].cookies["refresh_token"].value
    sid = jwt.decode(old_refresh, options={"verify_signature": False})["sid"]
    csrf = first["csrf_token"]
    assert post(browser_a, REFRESH, csrf=csrf).status_code == HTTPStatus.OK
    newest_access = browser_a.cookies["access_token"].value
    browser_a.cookies["refresh_token"] = old_refresh  # a thief's copy comes back
    reused = post(browser_a, REFRESH, csrf=csrf)
    assert reused.status_code == HTTPStatus.UNAUTHORIZED
    assert (
        reused.cookies["access_token"].value == "" and reused.cookies["refresh_token"].value == ""
    )
    with schema_context(tenant_a.schema_name):
        assert Session.objects.get(pk=sid).end_reason == Session.EndReason.REUSE
    fresh = host_client(ACME.domain)
    fresh.cookies["access_token"] = newest_access
    assert fresh.get("/api/user/").status_code == HTTPStatus.UNAUTHORIZED


def test_refresh_without_a_refresh_cookie_is_401(browser_a, carol):
    csrf = login(browser_a)["csrf_token"]
    del browser_a.cookies["refresh_token"]
    response = post(browser_a, REFRESH, csrf=csrf)
    assert response.status_code == HTTPStatus.UNAUTHORIZED


def assert_cleared(response, *, secure: bool = False) -> None:
    access, refresh = response.cookies["access_token"], response.cookies["refresh_token"]
    for morsel in (access, refresh):
        assert morsel.value == "" and str(morsel["max-age"]) == "0" and morsel["httponly"]
        assert bool(morsel["secure"]) is secure
    assert access["path"] == "/" and access["samesite"] == "Lax"
    assert refresh["path"] == "/api/auth/cookie/" and refresh["samesite"] == "Strict"


def test_logout_ends_the_session_and_clears_both_cookies(browser_a, carol):
    done = login(browser_a)
    access = done["response"].cookies["access_token"].value
    response = post(browser_a, LOGOUT, csrf=done["csrf_token"])
    assert response.status_code == HTTPStatus.OK and response.json() == {"detail": "Logged out"}
    assert_cleared(response)
    replay = host_client(ACME.domain)
    replay.cookies["access_token"] = access
    assert replay.get("/api/user/").status_code == HTTPStatus.UNAUTHORIZED
    assert post(browser_a, LOGOUT).json()["code"] == "csrf_failed"  # CSRF still needed


@pytest.mark.parametrize("refresh_cookie", [None, "not-a-jwt", "expired"])
def test_logout_clears_the_cookies_whatever_the_refresh_cookie(
    browser_a, tenant_a, carol, refresh_cookie
):
    done = login(browser_a, secure=True)
    if refresh_cookie is None:
        del browser_a.cookies["refresh_token"]
    elif refresh_cookie == "expired":  # ours, correctly signed, but past its exp
        expired = ClientRefreshToken()
        expired["user_id"], expired["client_id"] = carol.pk, tenant_a.pk
        expired.set_exp(lifetime=-timedelta(seconds=1))
        browser_a.cookies["refresh_token"] = str(expired)
    else:
        browser_a.cookies["refresh_token"] = refresh_cookie
    # Over HTTPS, Django's CSRF check also wants the Origin (or Referer) browsers send.
    response = post(
        browser_a,
        LOGOUT,
        csrf=done["csrf_token"],
        secure=True,
        HTTP_ORIGIN="https://acme.localhost",
    )
    assert response.status_code == HTTPStatus.OK
    assert_cleared(response, secure=True)


def test_an_html_form_logout_redirects_to_next_on_this_host_else_to_the_login_page(
    browser_a, carol
):
    for target, expected in (
        ("/admin/", "/admin/"),
        ("https://evil.test/", "/login/"),
        ("//evil.test/", "/login/"),
        ("", "/login/"),
    ):
        csrf = login(browser_a)["csrf_token"]
        response = browser_a.post(
            LOGOUT,
            urlencode({"csrfmiddlewaretoken": csrf, "next": target}),
            content_type="application/x-www-form-urlencoded",
            HTTP_ACCEPT="text/html,application/xhtml+xml",
        )
        assert response.status_code == HTTPStatus.FOUND, response.content
        assert response["Location"] == expected
        assert_cleared(response)


def test_cookies_of_one_tenant_are_refused_on_another_tenants_host(browser_a, tenant_b, carol):
    done = login(browser_a)
    other = host_client(GLOBEX.domain, enforce_csrf_checks=True)
    for name in ("access_token", "refresh_token", "csrftoken"):
        other.cookies[name] = done["response"].cookies[name].value
    assert other.get("/api/user/").status_code == HTTPStatus.UNAUTHORIZED
    refused = post(other, REFRESH, csrf=done["csrf_token"])
    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    assert browser_a.get("/api/user/").status_code == HTTPStatus.OK  # still live at home


def test_cookie_register_logs_the_new_account_in(browser_a, tenant_a):
    response = post(
        browser_a,
        "/api/auth/cookie/register/",
        {"username": "newcookie", "email": "nc@acme.test", "password": "Cookie-reg-2026"},
    )
    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["detail"] == "User registered successfully"
    assert "access" not in response.json()
    assert browser_a.get("/api/user/").json()["username"] == "newcookie"
    staff = post(
        browser_a,
        "/api/auth/cookie/register/",
        {"username": "s2", "email": "s2@acme.test", "password": "Cookie-reg-2026", "role": "staff"},
    )
    assert staff.status_code == HTTPStatus.FORBIDDEN


def test_the_csrf_route_hands_out_a_token_that_the_check_accepts(browser_a, carol):
    login(browser_a)
    fresh = browser_a.get("/api/auth/cookie/csrf/")
    assert fresh.status_code == HTTPStatus.OK and fresh.cookies["csrftoken"].value
    ok = post(browser_a, "/api/test-auth/", csrf=fresh.json()["csrf_token"])
    assert ok.status_code == HTTPStatus.OK


def test_a_stale_access_cookie_does_not_stop_an_anonymous_json_registration(browser_a, tenant_a):
    browser_a.cookies["access_token"] = "stale"
    response = post(
        browser_a,
        "/api/auth/register/",
        {"username": "stalecookie", "email": "sc@acme.test", "password": "Quiet-harbour-2026"},
    )
    assert response.status_code == HTTPStatus.CREATED
