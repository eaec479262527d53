"""Login protection (SPEC §10) through the real middleware, with fake client addresses coming
through a trusted proxy: per account and IP, per IP, unknown accounts alike, registration per
IP, every login path, the 429 shape, unblocking, Redis down, and the bound on concurrent password
checks per client."""

from __future__ import annotations

import threading
from http import HTTPStatus

import pytest

from authapi import protection
from tests.authapi.conftest import PASSWORD, Api
from tests.protection.conftest import from_ip

pytestmark = pytest.mark.django_db

WRONG = "not-the-password"
ATTACKER = "203.0.113.66"
VICTIM_IP = "198.51.100.7"


def login(api: Api, username: str, password: str, ip: str, path: str = "/api/auth/token/"):
    return api.post(path, {"username": username, "password": password}, **from_ip(ip))


def fail(api: Api, username: str, ip: str, times: int) -> None:
    for _ in range(times):
        assert login(api, username, WRONG, ip).status_code == HTTPStatus.UNAUTHORIZED


def assert_throttled(response) -> None:
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS, response.content
    assert response.json()["code"] == "too_many_attempts"
    assert set(response.json()) == {"detail", "code"}
    assert 0 < int(response["Retry-After"]) <= 900


@pytest.fixture
def erin(tenant_a, make_user):
    return make_user(tenant_a, "erin")


def test_ten_failures_block_the_account_from_that_ip_even_with_the_right_password(
    api_a, limits, erin
):
    fail(api_a, "erin", ATTACKER, 10)
    assert_throttled(login(api_a, "erin", PASSWORD, ATTACKER))
    # Another address still logs in to that account.
    assert login(api_a, "erin", PASSWORD, VICTIM_IP).status_code == HTTPStatus.OK


def test_an_unknown_account_is_counted_and_answered_exactly_like_a_known_one(api_a, limits, erin):
    answers = []
    for username in ("erin", "nobody-here"):
        for _ in range(10):
            answers.append((username, login(api_a, username, WRONG, ATTACKER).json()))
        blocked = login(api_a, username, WRONG, ATTACKER)
        assert_throttled(blocked)
        answers.append((username, blocked.json()))
    known = [a for u, a in answers if u == "erin"]
    unknown = [a for u, a in answers if u != "erin"]
    assert known == unknown


def test_a_hundred_failures_from_one_ip_block_every_login_from_it(api_a, limits, erin):
    limits.LOGIN_IP_MAX_FAILURES = 30  # the same rule, reached sooner
    for n in range(30):
        login(api_a, f"spray-{n % 6}", WRONG, ATTACKER)
    assert_throttled(login(api_a, "erin", PASSWORD, ATTACKER))
    assert_throttled(login(api_a, "someone-else", WRONG, ATTACKER))
    assert login(api_a, "erin", PASSWORD, VICTIM_IP).status_code == HTTPStatus.OK


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(api_a, limits, erin):
    for n in range(10):
        response = api_a.post(
            "/api/auth/token/",
            {"username": "erin", "password": WRONG},
            REMOTE_ADDR=ATTACKER,  # not a trusted proxy
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",  # a fresh "address" every time
        )
        assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert_throttled(
        api_a.post(
            "/api/auth/token/",
            {"username": "erin", "password": PASSWORD},
            REMOTE_ADDR=ATTACKER,
            HTTP_X_FORWARDED_FOR="192.0.2.200",
        )
    )


def test_a_success_clears_the_accounts_failures_from_that_ip(api_a, limits, erin):
    fail(api_a, "erin", VICTIM_IP, 9)
    assert login(api_a, "erin", PASSWORD, VICTIM_IP).status_code == HTTPStatus.OK
    fail(api_a, "erin", VICTIM_IP, 9)
    assert login(api_a, "erin", PASSWORD, VICTIM_IP).status_code == HTTPStatus.OK


def test_cookie_login_and_the_api_key_password_flow_count_as_logins(api_a, limits, erin):
    for n in range(10):
        path = "/api/auth/cookie/login/" if n % 2 else "/api/auth/api-tokens/"
        assert login(api_a, "erin", WRONG, ATTACKER, path).status_code == 401
    for path in ("/api/auth/token/", "/api/auth/cookie/login/", "/api/auth/api-tokens/"):
        assert_throttled(login(api_a, "erin", PASSWORD, ATTACKER, path))


def test_registration_is_limited_per_ip(api_a, limits, tenant_a):
    limits.REGISTER_RATE = "3/h"
    for n in range(3):
        response = api_a.post(
            "/api/auth/register/",
            {"username": f"reg{n}", "email": f"reg{n}@acme.test", "password": "Reg-limit-2026!"},
            **from_ip(ATTACKER),
        )
        assert response.status_code == HTTPStatus.CREATED
    refused = api_a.post(
        "/api/auth/register/",
        {"username": "reg9", "email": "reg9@acme.test", "password": "Reg-limit-2026!"},
        **from_ip(ATTACKER),
    )
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert 0 < int(refused["Retry-After"]) <= 3600
    # A taken name is no faster oracle either: the limit comes first.
    taken = api_a.post(
        "/api/auth/register/",
        {"username": "reg0", "email": "other@acme.test", "password": "Reg-limit-2026!"},
        **from_ip(ATTACKER),
    )
    assert taken.status_code == HTTPStatus.TOO_MANY_REQUESTS
    fine = api_a.post(
        "/api/auth/register/",
        {"username": "reg8", "email": "reg8@acme.test", "password": "Reg-limit-2026!"},
        **from_ip(VICTIM_IP),
    )
    assert fine.status_code == HTTPStatus.CREATED


def test_counters_are_per_client(api_a, api_b, limits, erin, tenant_b, make_user):
    make_user(tenant_b, "erin")
    fail(api_a, "erin", ATTACKER, 10)
    assert_throttled(login(api_a, "erin", PASSWORD, ATTACKER))
    assert login(api_b, "erin", PASSWORD, ATTACKER).status_code == HTTPStatus.OK


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_the_admin_session_logins_are_protected_too(http_a, tenant_a, limits, make_user, path):
    make_user(tenant_a, "adminuser", role="admin")
    for _ in range(10):
        response = http_a.post(
            path, {"username": "adminuser", "password": WRONG}, **from_ip(ATTACKER)
        )
        assert response.status_code == HTTPStatus.OK  # the form again
    blocked = http_a.post(
        path, {"username": "adminuser", "password": PASSWORD}, **from_ip(ATTACKER)
    )
    assert blocked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert int(blocked["Retry-After"]) > 0
    assert b"Too many failed logins" in blocked.content
    ok = http_a.post(path, {"username": "adminuser", "password": PASSWORD}, **from_ip(VICTIM_IP))
    assert ok.status_code == HTTPStatus.FOUND


def test_the_platform_admin_login_is_protected_too(http_public, public_tenant, limits):
    from django_tenants.utils import schema_context

    from authapi.services import user_create

    with schema_context("public"):
        user_create(username="op2", email="op2@platform.test", password=PASSWORD, role="admin")
    for _ in range(10):
        http_public.post("/login/", {"username": "op2", "password": WRONG}, **from_ip(ATTACKER))
    blocked = http_public.post(
        "/login/", {"username": "op2", "password": PASSWORD}, **from_ip(ATTACKER)
    )
    assert blocked.status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_the_tenant_admin_lists_blocks_and_unblocks_them(
    http_a, api_a, tenant_a, limits, erin, make_user
):
    from tests.admin.test_boundaries import sign_in

    fail(api_a, "erin", ATTACKER, 10)
    assert_throttled(login(api_a, "erin", PASSWORD, ATTACKER))
    make_user(tenant_a, "unblocker", role="staff")
    assert sign_in(http_a, "unblocker").status_code == HTTPStatus.FOUND
    index = http_a.get("/admin/")
    assert b"/admin/blocked-logins/" in index.content
    page = http_a.get("/admin/blocked-logins/")
    assert page.status_code == HTTPStatus.OK
    assert b"erin" in page.content and ATTACKER.encode() in page.content
    (block,) = protection.blocked_list(schema=tenant_a.schema_name)
    response = http_a.post("/admin/blocked-logins/", {"block": block.id}, follow=True)
    assert b"Unblocked erin" in response.content
    assert login(api_a, "erin", PASSWORD, ATTACKER).status_code == HTTPStatus.OK
    assert b"Nothing is blocked" in http_a.get("/admin/blocked-logins/").content


def test_customers_cannot_see_the_blocked_logins(http_a, tenant_a, limits, make_user):
    from tests.admin.test_boundaries import sign_in

    make_user(tenant_a, "plain")
    sign_in(http_a, "plain")
    assert http_a.get("/admin/blocked-logins/").status_code in (
        HTTPStatus.FOUND,
        HTTPStatus.FORBIDDEN,
    )


def test_with_redis_unreachable_logins_keep_working_unprotected(api_a, limits, erin, caplog):
    limits.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    protection._redis = protection._Redis()
    try:
        for _ in range(12):
            login(api_a, "erin", WRONG, ATTACKER)
        assert login(api_a, "erin", PASSWORD, ATTACKER).status_code == HTTPStatus.OK
        assert "event=login_protection_unavailable" in caplog.text
    finally:
        protection._redis = protection._Redis()


def test_password_checks_beyond_the_clients_bound_are_refused_at_once(
    api_a, limits, erin, tenant_a
):
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with protection.hashing_slot(schema=tenant_a.schema_name):
            holding.set()
            release.wait(10)

    worker = threading.Thread(target=hold)
    worker.start()
    try:
        assert holding.wait(5)
        refused = login(api_a, "erin", PASSWORD, VICTIM_IP)
        assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
        assert refused["Retry-After"] == "1"
    finally:
        release.set()
        worker.join()
    assert login(api_a, "erin", PASSWORD, VICTIM_IP).status_code == HTTPStatus.OK


def test_another_clients_logins_are_not_bound_by_this_ones_slots(
    api_b, limits, tenant_a, tenant_b, make_user
):
    make_user(tenant_b, "frank")
    with protection.hashing_slot(schema=tenant_a.schema_name):
        assert login(api_b, "frank", PASSWORD, VICTIM_IP).status_code == HTTPStatus.OK


def test_a_holder_that_never_released_its_slot_lapses_whatever_arrives_meanwhile(
    api_a, limits, erin, tenant_a
):
    import time

    import redis
    from django.conf import settings as django_settings

    key = f"tenantauth:lp:{tenant_a.schema_name}:hashing"
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    client.zadd(key, {"killed-worker": time.time()})  # a worker died holding the only slot
    for _ in range(3):  # refused attempts do not keep the dead holder alive
        assert login(api_a, "erin", PASSWORD, VICTIM_IP).status_code == 429
    client.zadd(key, {"killed-worker": time.time() - 31})  # ... as it will be 31 s later
    assert login(api_a, "erin", PASSWORD, VICTIM_IP).status_code == HTTPStatus.OK


@pytest.mark.parametrize("spelling", ["ERIN", "erin@acme.test", "\uff45\uff52\uff49\uff4e"])
def test_every_name_of_an_account_counts_against_the_same_account(api_a, limits, erin, spelling):
    fail(api_a, spelling, ATTACKER, 5)
    fail(api_a, "erin", ATTACKER, 5)
    assert_throttled(login(api_a, "erin", PASSWORD, ATTACKER))
    assert_throttled(login(api_a, spelling, PASSWORD, ATTACKER))


def test_an_ipv6_host_counts_as_its_whole_64(api_a, limits, erin):
    for n in range(10):
        assert login(api_a, "erin", WRONG, f"2001:db8:1:2::{n + 1:x}").status_code == 401
    assert_throttled(login(api_a, "erin", PASSWORD, "2001:db8:1:2:ffff::1"))
    assert login(api_a, "erin", PASSWORD, "2001:db8:1:3::1").status_code == HTTPStatus.OK


def test_guessing_the_old_password_on_password_change_is_limited_too(api_a, limits, erin):
    access = login(api_a, "erin", PASSWORD, VICTIM_IP).json()["access"]
    for _ in range(10):
        wrong = api_a.post(
            "/api/auth/password/change/",
            {"old_password": WRONG, "new_password": "Another-pass-2027"},
            token=access,
            **from_ip(ATTACKER),
        )
        assert wrong.status_code == HTTPStatus.BAD_REQUEST
    blocked = api_a.post(
        "/api/auth/password/change/",
        {"old_password": PASSWORD, "new_password": "Another-pass-2027"},
        token=access,
        **from_ip(ATTACKER),
    )
    assert_throttled(blocked)


def test_staff_cannot_unblock_an_admin_account(http_a, api_a, tenant_a, limits, make_user):
    from tests.admin.test_boundaries import sign_in

    make_user(tenant_a, "bigboss", role="admin")
    fail(api_a, "bigboss", ATTACKER, 10)
    make_user(tenant_a, "helper2", role="staff")
    sign_in(http_a, "helper2")
    (block,) = protection.blocked_list(schema=tenant_a.schema_name)
    response = http_a.post("/admin/blocked-logins/", {"block": block.id}, follow=True)
    assert b"Only an admin may unblock an admin account" in response.content
    assert_throttled(login(api_a, "bigboss", PASSWORD, ATTACKER))
