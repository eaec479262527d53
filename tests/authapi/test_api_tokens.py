"""Static API keys (SPEC §7, `Authorization: Token tat_…`) through the real middleware: made
with a Bearer or with username and password, shown once, stored as a digest, accepted wherever a
Bearer access token is, refused like a bad Bearer once deleted, expired, of an inactive user or
of another tenant."""

from __future__ import annotations

import time
from datetime import timedelta
from http import HTTPStatus
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from authapi import api_tokens, purge
from authapi.models import ApiToken, User
from authapi.tokens import token_digest
from tests.admin.test_boundaries import sign_in
from tests.authapi.conftest import LOGOUT_ROUTES, PASSWORD, Api
from tests.conftest import ACME, host_client, run_in_another_process

pytestmark = pytest.mark.django_db

KEYS = "/api/auth/api-tokens/"


def with_key(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Token {key}"}


def make_key(api: Api, username: str, **body: Any) -> dict[str, Any]:
    access = api.login(username)["access"]
    response = api.post(KEYS, {"name": "ci", **body}, token=access)
    assert response.status_code == HTTPStatus.CREATED, response.content
    return response.json()


def me(api: Api, key: str) -> int:
    return api.http.get("/api/user/", **with_key(key)).status_code


@pytest.fixture
def bob(tenant_a, make_user) -> User:
    return make_user(tenant_a, "bob")


@pytest.fixture(autouse=True)
def _forget_touches():
    api_tokens._touched.clear()


def test_a_key_made_with_a_bearer_is_shown_once_and_stored_as_a_digest(api_a, tenant_a, bob):
    made = make_key(api_a, "bob", name="deploy script", expires_in_days=30)
    key = made["token"]
    assert key.startswith("tat_") and len(key) >= 4 + 43
    assert made["prefix"] == key[:12] and made["name"] == "deploy script"
    assert made["expires_at"] is not None
    with schema_context(tenant_a.schema_name):
        stored = ApiToken.objects.get(pk=made["id"])
    assert stored.digest == token_digest(key) and key not in stored.digest
    listed = api_a.http.get(KEYS, **with_key(key)).json()
    assert listed["count"] == 1 and "token" not in listed["items"][0]
    assert listed["items"][0]["prefix"] == made["prefix"]


def test_a_key_made_with_username_and_password_like_drfs_obtain_token(api_a, bob):
    response = api_a.post(KEYS, {"username": "bob", "password": PASSWORD})
    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["name"] == "API token" and response.json()["expires_at"] is None
    assert me(api_a, response.json()["token"]) == HTTPStatus.OK
    wrong = api_a.post(KEYS, {"username": "bob", "password": "not-it"})
    assert wrong.status_code == HTTPStatus.UNAUTHORIZED
    assert wrong.json()["code"] == "no_active_account"
    assert api_a.post(KEYS, {"username": "nobody", "password": PASSWORD}).json() == wrong.json()


@pytest.mark.parametrize(
    "body,field",
    [
        ({"username": "bob"}, "password"),
        ({}, "username"),
        ({"username": "bob", "password": PASSWORD, "expires_in_days": 0}, "expires_in_days"),
        ({"username": "bob", "password": PASSWORD, "expires_in_days": 3651}, "expires_in_days"),
        ({"username": "bob", "password": PASSWORD, "name": "x" * 101}, "name"),
        ({"username": "bob", "password": PASSWORD, "name": "a\x00b"}, "name"),
    ],
)
def test_bad_key_requests_are_400_on_the_field(api_a, bob, body, field):
    response = api_a.post(KEYS, body)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in {e["field"] for e in response.json()["errors"]}


def test_a_bearer_request_must_name_its_key_and_a_key_cannot_make_keys(api_a, bob):
    access = api_a.login("bob")["access"]
    unnamed = api_a.post(KEYS, {}, token=access)
    assert unnamed.status_code == HTTPStatus.BAD_REQUEST
    assert unnamed.json()["errors"][0]["field"] == "name"
    key = make_key(api_a, "bob")["token"]
    response = api_a.http.post(
        KEYS, {"name": "more"}, content_type="application/json", **with_key(key)
    )
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_a_key_authenticates_every_route_a_bearer_does(api_a, tenant_a, make_user):
    make_user(tenant_a, "keyboss", role="admin")
    key = make_key(api_a, "keyboss")["token"]
    http = api_a.http
    assert http.get("/api/user/", **with_key(key)).json()["username"] == "keyboss"
    assert http.get("/api/profile/", **with_key(key)).status_code == HTTPStatus.OK
    tested = http.post("/api/test-auth/", content_type="application/json", **with_key(key))
    assert tested.json()["user"] == "keyboss"
    assert http.get("/api/accounts/", **with_key(key)).status_code == HTTPStatus.OK
    assert http.get("/api/auth/sessions/", **with_key(key)).status_code == HTTPStatus.OK
    staff = http.post(
        "/api/auth/register/",
        {
            "username": "made-by-key",
            "email": "mbk@acme.test",
            "password": "Str0ng-pass-2026",
            "role": "staff",
        },
        content_type="application/json",
        **with_key(key),
    )
    assert staff.status_code == HTTPStatus.CREATED and staff.json()["role"] == "staff"
    # A key has no session, so none of the listed sessions is "current".
    sessions = http.get("/api/auth/sessions/", **with_key(key)).json()["items"]
    assert sessions and not any(s["current"] for s in sessions)
    # logout-all ends the user's sessions; the key itself is managed on its own route.
    ended = http.post("/api/auth/logout-all/", content_type="application/json", **with_key(key))
    assert ended.status_code == HTTPStatus.OK and ended.json()["revoked"] >= 1
    assert me(api_a, key) == HTTPStatus.OK


def test_password_change_takes_a_bearer_not_a_key(api_a, bob):
    key = make_key(api_a, "bob")["token"]
    response = api_a.http.post(
        "/api/auth/password/change/",
        {"old_password": PASSWORD, "new_password": "N3w-pass-phrase-2026"},
        content_type="application/json",
        **with_key(key),
    )
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    [
        "Token tat_" + "A" * 43,  # well formed, unknown
        "Token tat_short",
        "Token " + "x" * 5000,
        "Token",
        "Token tat_a tat_b",
        "Basic Ym9iOnB3",
    ],
)
def test_a_bad_key_is_the_same_401_as_a_bad_bearer(api_a, header):
    response = api_a.http.get("/api/user/", HTTP_AUTHORIZATION=header)
    bad_bearer = api_a.get("/api/user/", token="not-a-jwt")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == bad_bearer.json()
    assert response["WWW-Authenticate"] == "Bearer"


def test_list_and_delete_my_keys_only(api_a, tenant_a, bob, make_user):
    make_user(tenant_a, "carol")
    first = make_key(api_a, "bob", name="first")
    second = make_key(api_a, "bob", name="second")
    carols = make_key(api_a, "carol")
    listed = api_a.http.get(KEYS, **with_key(first["token"])).json()
    assert [k["name"] for k in listed["items"]] == ["second", "first"]
    for other in (carols["id"], 10**30, 0):
        gone = api_a.http.delete(f"{KEYS}{other}/", **with_key(first["token"]))
        assert gone.status_code == HTTPStatus.NOT_FOUND, other
    assert me(api_a, carols["token"]) == HTTPStatus.OK
    deleted = api_a.http.delete(f"{KEYS}{second['id']}/", **with_key(first["token"]))
    assert deleted.status_code == HTTPStatus.NO_CONTENT
    assert me(api_a, second["token"]) == HTTPStatus.UNAUTHORIZED
    again = api_a.http.delete(f"{KEYS}{second['id']}/", **with_key(first["token"]))
    assert again.status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize("path", LOGOUT_ROUTES)
def test_logout_with_a_token_header_and_no_refresh_token_deletes_that_key(api_a, bob, path):
    key = make_key(api_a, "bob")["token"]
    other = make_key(api_a, "bob")["token"]
    assert me(api_a, key) == HTTPStatus.OK  # cached as live in this process
    response = api_a.http.post(path, {}, content_type="application/json", **with_key(key))
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"detail": "Logged out"}
    assert me(api_a, key) == HTTPStatus.UNAUTHORIZED
    assert me(api_a, other) == HTTPStatus.OK
    twice = api_a.http.post(path, {}, content_type="application/json", **with_key(key))
    assert twice.status_code == HTTPStatus.UNAUTHORIZED


def test_logout_with_neither_a_refresh_token_nor_a_key_is_400(api_a, bob):
    response = api_a.post("/api/auth/token/blacklist/", {})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["errors"][0]["field"] == "refresh"


def test_an_expired_key_is_refused(api_a, bob):
    made = make_key(api_a, "bob", expires_in_days=1)
    assert me(api_a, made["token"]) == HTTPStatus.OK
    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=1)):
        assert me(api_a, made["token"]) == HTTPStatus.UNAUTHORIZED
        assert made["id"] not in [
            k["id"] for k in api_a.get(KEYS, token=api_a.login("bob")["access"]).json()["items"]
        ]


def test_a_key_of_an_inactive_or_deleted_user_is_refused(api_a, tenant_a, bob, make_user):
    key = make_key(api_a, "bob")["token"]
    assert me(api_a, key) == HTTPStatus.OK
    with schema_context(tenant_a.schema_name):
        bob.is_active = False
        bob.save()
    assert me(api_a, key) == HTTPStatus.UNAUTHORIZED
    make_user(tenant_a, "dora")
    doras = make_key(api_a, "dora")["token"]
    assert me(api_a, doras) == HTTPStatus.OK
    with schema_context(tenant_a.schema_name):
        User.objects.get(username="dora").delete()
    assert me(api_a, doras) == HTTPStatus.UNAUTHORIZED


def test_a_key_is_worthless_on_another_tenants_host(api_a, api_b, tenant_b, bob, make_user):
    made = make_key(api_a, "bob")
    make_user(tenant_b, "bob")  # same name over there
    assert me(api_b, made["token"]) == HTTPStatus.UNAUTHORIZED
    theirs = make_key(api_b, "bob")
    gone = api_b.http.delete(f"{KEYS}{made['id']}/", **with_key(theirs["token"]))
    assert gone.status_code == HTTPStatus.NOT_FOUND
    logout = api_b.http.post(
        "/api/auth/token/blacklist/", {}, content_type="application/json", **with_key(made["token"])
    )
    assert logout.status_code == HTTPStatus.UNAUTHORIZED
    assert me(api_a, made["token"]) == HTTPStatus.OK


def test_last_used_is_written_at_most_once_a_minute(api_a, tenant_a, bob):
    made = make_key(api_a, "bob")

    def last_used():
        with schema_context(tenant_a.schema_name):
            return ApiToken.objects.get(pk=made["id"]).last_used_at

    assert last_used() is None
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert me(api_a, made["token"]) == HTTPStatus.OK
        first = last_used()
        assert first == start
        with CaptureQueriesContext(connection) as queries:
            assert me(api_a, made["token"]) == HTTPStatus.OK
        assert queries.captured_queries == []  # warm, and touched less than a minute ago
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        me(api_a, made["token"])
        assert last_used() == first
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        me(api_a, made["token"])
        assert last_used() == start + timedelta(seconds=61)


def test_a_token_request_is_no_sql_once_warm_and_two_statements_cold(api_a, bob):
    """Cold: the key and its last_used_at (its user is the same cached row a Bearer uses, warm
    here from the login that made the key)."""
    key = make_key(api_a, "bob")["token"]
    api_a.get("/api/hello")
    with CaptureQueriesContext(connection) as queries:
        assert me(api_a, key) == HTTPStatus.OK
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) == 2, sql
    assert sql[0].startswith('SELECT "authapi_apitoken"') and sql[1].startswith("UPDATE")
    with CaptureQueriesContext(connection) as queries:
        assert me(api_a, key) == HTTPStatus.OK
    assert queries.captured_queries == []


@pytest.mark.django_db(transaction=True)
def test_a_key_deleted_by_another_process_is_refused_here_at_once(
    tenant_a, make_user, clean_tenant_tables
):
    make_user(tenant_a, "remote-key")
    api = Api(host_client(ACME.domain))
    key = make_key(api, "remote-key")["token"]
    assert me(api, key) == HTTPStatus.OK  # cached as live in this process
    run_in_another_process(
        "from django_tenants.utils import schema_context\n"
        "from authapi.models import ApiToken\n"
        f"with schema_context({ACME.schema!r}):\n"
        "    ApiToken.objects.all().delete()\n"
    )
    deadline = time.monotonic() + 2
    while me(api, key) == HTTPStatus.OK and time.monotonic() < deadline:
        time.sleep(0.01)
    assert me(api, key) == HTTPStatus.UNAUTHORIZED


def test_the_tenant_admin_lists_keys_without_their_value_and_staff_revoke_only_non_admins(
    http_a, api_a, tenant_a, bob, make_user
):
    make_user(tenant_a, "keystaff", role="staff")
    make_user(tenant_a, "keyadmin", role="admin")
    bobs, admins = make_key(api_a, "bob"), make_key(api_a, "keyadmin")
    sign_in(http_a, "keystaff")
    page = http_a.get("/admin/authapi/apitoken/")
    assert page.status_code == HTTPStatus.OK
    assert bobs["prefix"].encode() in page.content
    for made in (bobs, admins):
        assert made["token"].encode() not in page.content
        assert made["token"][12:].encode() not in page.content
        assert token_digest(made["token"]).encode() not in page.content
    detail = http_a.get(f"/admin/authapi/apitoken/{bobs['id']}/change/")
    assert detail.status_code == HTTPStatus.OK and bobs["token"].encode() not in detail.content
    assert token_digest(bobs["token"]).split(":")[1].encode() not in detail.content
    response = http_a.post(
        "/admin/authapi/apitoken/",
        {"action": "revoke", "_selected_action": [bobs["id"], admins["id"]]},
        follow=True,
    )
    assert b"Revoked 1 API key(s)" in response.content
    assert b"were not revoked: only an admin may" in response.content
    assert me(api_a, bobs["token"]) == HTTPStatus.UNAUTHORIZED
    assert me(api_a, admins["token"]) == HTTPStatus.OK


def test_the_user_page_links_to_its_sessions_and_keys_and_ends_them_all(
    http_a, api_a, tenant_a, bob, make_user
):
    make_user(tenant_a, "useradmin", role="admin")
    pairs = [api_a.login("bob"), api_a.login("bob")]
    key = make_key(api_a, "bob")["token"]
    sign_in(http_a, "useradmin")
    page = http_a.get(f"/admin/authapi/user/{bob.pk}/change/")
    assert f"?user__id__exact={bob.pk}".encode() in page.content
    assert b"3 live session(s)" in page.content and b"1 API key(s)" in page.content
    listed = http_a.get(f"/admin/authapi/session/?user__id__exact={bob.pk}")
    assert listed.status_code == HTTPStatus.OK and b"3 login sessions" in listed.content
    http_a.post("/admin/authapi/user/", {"action": "end_sessions", "_selected_action": [bob.pk]})
    for pair in pairs:
        assert api_a.get("/api/user/", token=pair["access"]).status_code == HTTPStatus.UNAUTHORIZED
    assert me(api_a, key) == HTTPStatus.OK
    http_a.post(
        "/admin/authapi/user/", {"action": "revoke_api_tokens", "_selected_action": [bob.pk]}
    )
    assert me(api_a, key) == HTTPStatus.UNAUTHORIZED


def test_the_purge_removes_expired_keys_and_long_ended_sessions_only(
    api_a, tenant_a, bob, settings
):
    live = make_key(api_a, "bob")
    dying = make_key(api_a, "bob", expires_in_days=1)
    pair = api_a.login("bob")
    api_a.post("/api/auth/token/blacklist/", {"refresh": pair["refresh"]})  # ends its session
    lifetime = settings.NINJA_JWT["REFRESH_TOKEN_LIFETIME"]
    soon = purge.tokens_purge_expired(schema_name=tenant_a.schema_name)
    assert soon.api_tokens_deleted == 0 and soon.sessions_deleted == 0  # ended, kept a while
    later = purge.tokens_purge_expired(
        schema_name=tenant_a.schema_name,
        now=timezone.now() + max(lifetime, timedelta(days=1)) + timedelta(seconds=1),
    )
    assert later.api_tokens_deleted == 1
    assert later.sessions_deleted >= 1
    with schema_context(tenant_a.schema_name):
        assert set(ApiToken.objects.values_list("pk", flat=True)) == {live["id"]}
        assert dying["id"] not in ApiToken.objects.values_list("pk", flat=True)


def test_a_password_change_deletes_the_users_api_keys(api_a, tenant_a, bob):
    made = make_key(api_a, "bob")
    access = api_a.login("bob")["access"]
    changed = api_a.post(
        "/api/auth/password/change/",
        {"old_password": PASSWORD, "new_password": "Changed-pass-2027"},
        token=access,
    )
    assert changed.status_code == HTTPStatus.OK
    assert me(api_a, made["token"]) == HTTPStatus.UNAUTHORIZED
    with schema_context(tenant_a.schema_name):
        assert not ApiToken.objects.filter(user=bob).exists()
