"""Sessions (SPEC §7) through the real middleware: a login is a session, both tokens carry its
`sid`, reuse of a rotated refresh token ends it, and every token of an ended session is refused."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from http import HTTPStatus

import jwt
import pytest
import time_machine
from django.db import connection
from django.db.models.functions import Now
from django.utils import timezone
from django_tenants.utils import schema_context
from ninja_jwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from ninja_jwt.utils import datetime_from_epoch

from authapi import purge, tokens
from authapi.models import Session, User
from tests.admin.test_boundaries import sign_in
from tests.authapi.conftest import PASSWORD, REFRESH_ROUTES, Api, keys_made_after
from tests.conftest import ACME, host_client, run_in_another_process

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "An0ther-good-passphrase"


def claims(raw: str) -> dict:
    return jwt.decode(raw, options={"verify_signature": False})


def me(api: Api, access: str) -> int:
    return api.get("/api/user/", token=access).status_code


@pytest.fixture
def alice(tenant_a, make_user):
    return make_user(tenant_a, "alice")


def test_a_login_starts_a_session_that_both_tokens_carry(api_a, tenant_a, alice):
    response = api_a.post(
        "/api/auth/token/",
        {"username": "alice", "password": PASSWORD},
        HTTP_USER_AGENT="Mozilla/5.0 (X11) test-browser",
        REMOTE_ADDR="198.51.100.7",
    )
    pair = response.json()
    sid = claims(pair["access"])["sid"]
    assert claims(pair["refresh"])["sid"] == sid
    with schema_context(tenant_a.schema_name):
        session = Session.objects.get(pk=sid)
    assert session.user_id == alice.pk and session.ended_at is None
    assert session.user_agent == "Mozilla/5.0 (X11) test-browser"
    assert session.ip == "198.51.100.7"


def test_register_starts_a_session_too(api_a, tenant_a):
    body = {"username": "newbie", "email": "newbie@acme.test", "password": PASSWORD}
    registered = api_a.post("/api/auth/register/", body).json()
    with schema_context(tenant_a.schema_name):
        assert Session.objects.filter(pk=claims(registered["refresh"])["sid"]).exists()


def test_rotation_keeps_the_session_and_never_extends_it(api_a, tenant_a, alice, settings):
    settings.SESSION_MAX_LIFETIME = timedelta(hours=2)  # shorter than a refresh token's day
    pair = api_a.login("alice")
    rotated = api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}).json()
    assert claims(rotated["refresh"])["sid"] == claims(pair["refresh"])["sid"]
    with schema_context(tenant_a.schema_name):
        expires = Session.objects.get(pk=claims(pair["refresh"])["sid"]).expires_at
    assert datetime_from_epoch(claims(rotated["refresh"])["exp"]) <= expires
    with time_machine.travel(expires + timedelta(seconds=1), tick=False):
        assert me(api_a, rotated["access"]) == HTTPStatus.UNAUTHORIZED
        refused = api_a.post("/api/auth/token/refresh/", {"refresh": rotated["refresh"]})
        assert refused.status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize("path", REFRESH_ROUTES)
def test_reuse_of_a_rotated_refresh_token_ends_the_whole_session(api_a, tenant_a, alice, path):
    pair = api_a.login("alice")
    other = api_a.login("alice")  # another session of the same user: untouched
    rotated = api_a.post(path, {"refresh": pair["refresh"]}).json()
    assert me(api_a, rotated["access"]) == HTTPStatus.OK

    reuse = api_a.post(path, {"refresh": pair["refresh"]})

    assert reuse.status_code == HTTPStatus.UNAUTHORIZED
    assert api_a.post(path, {"refresh": rotated["refresh"]}).status_code == 401
    assert me(api_a, rotated["access"]) == HTTPStatus.UNAUTHORIZED  # not expired, yet refused
    with schema_context(tenant_a.schema_name):
        session = Session.objects.get(pk=claims(pair["refresh"])["sid"])
    assert session.end_reason == "refresh_reuse" and session.ended_at is not None
    assert me(api_a, other["access"]) == HTTPStatus.OK


def test_within_the_grace_period_a_just_rotated_token_may_be_rotated_again(
    api_a, tenant_a, alice, settings
):
    settings.REFRESH_REUSE_GRACE_SECONDS = 5
    pair = api_a.login("alice")
    first = api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})
    retry = api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert first.status_code == retry.status_code == HTTPStatus.OK
    assert me(api_a, first.json()["access"]) == me(api_a, retry.json()["access"]) == 200
    with schema_context(tenant_a.schema_name):  # the rotation, six seconds ago by the DB's clock
        BlacklistedToken.objects.filter(token__jti=claims(pair["refresh"])["jti"]).update(
            blacklisted_at=Now() - timedelta(seconds=6)
        )
    late = api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert late.status_code == HTTPStatus.UNAUTHORIZED
    assert me(api_a, retry.json()["access"]) == HTTPStatus.UNAUTHORIZED


def test_logout_ends_the_session_and_its_access_tokens_die_with_it(api_a, alice):
    pair = api_a.login("alice")
    assert api_a.post("/api/auth/token/blacklist/", {"refresh": pair["refresh"]}).status_code == 200
    assert me(api_a, pair["access"]) == HTTPStatus.UNAUTHORIZED
    verify = api_a.post("/api/auth/token/verify/", {"token": pair["access"]})
    assert verify.status_code == HTTPStatus.UNAUTHORIZED


def test_logout_all_ends_every_session_of_the_caller(api_a, tenant_a, alice, make_user):
    make_user(tenant_a, "bob")
    bobs = api_a.login("bob")
    first, second = api_a.login("alice"), api_a.login("alice")

    response = api_a.post("/api/auth/logout-all/", token=first["access"])

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"detail": "Logged out everywhere", "revoked": 2}
    for pair in (first, second):
        assert me(api_a, pair["access"]) == HTTPStatus.UNAUTHORIZED
        assert (
            api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}).status_code == 401
        )
    assert me(api_a, bobs["access"]) == HTTPStatus.OK


def test_sessions_list_shows_my_live_sessions_newest_first_with_the_current_one(
    api_a, tenant_a, alice, make_user
):
    make_user(tenant_a, "bob")
    api_a.login("bob")
    ended = api_a.login("alice")
    api_a.post("/api/logout/", {"refresh": ended["refresh"]})
    older = api_a.login("alice")
    current = api_a.login("alice")

    response = api_a.get("/api/auth/sessions/", token=current["access"])

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["count"] == 2
    ids = [item["id"] for item in body["items"]]
    assert ids == [claims(current["access"])["sid"], claims(older["access"])["sid"]]
    assert [item["current"] for item in body["items"]] == [True, False]
    assert set(body["items"][0]) == {
        "id",
        "created_at",
        "last_used_at",
        "expires_at",
        "user_agent",
        "ip",
        "current",
    }


def test_ending_one_session_by_id(api_a, tenant_a, alice, make_user):
    mine, other = api_a.login("alice"), api_a.login("alice")
    make_user(tenant_a, "bob")
    bobs = api_a.login("bob")
    target = claims(other["access"])["sid"]

    assert (
        api_a.http.delete(
            f"/api/auth/sessions/{target}/", HTTP_AUTHORIZATION=f"Bearer {mine['access']}"
        ).status_code
        == HTTPStatus.NO_CONTENT
    )
    assert me(api_a, other["access"]) == HTTPStatus.UNAUTHORIZED
    assert me(api_a, mine["access"]) == HTTPStatus.OK
    for sid in (target, claims(bobs["access"])["sid"], "not-a-session", "0" * 36):
        response = api_a.http.delete(
            f"/api/auth/sessions/{sid}/", HTTP_AUTHORIZATION=f"Bearer {mine['access']}"
        )
        assert response.status_code == HTTPStatus.NOT_FOUND, sid
        assert response.json()["code"] == "not_found"
    assert me(api_a, bobs["access"]) == HTTPStatus.OK


def test_a_session_of_another_tenant_is_not_found_there(api_a, api_b, alice, tenant_b, make_user):
    make_user(tenant_b, "alice")
    theirs = api_b.login("alice")
    sid = claims(api_a.login("alice")["access"])["sid"]
    response = api_b.http.delete(
        f"/api/auth/sessions/{sid}/", HTTP_AUTHORIZATION=f"Bearer {theirs['access']}"
    )
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_password_change_keeps_the_current_session_and_ends_the_others(api_a, alice):
    current, other = api_a.login("alice"), api_a.login("alice")
    change = "/api/auth/password/change/"

    wrong = api_a.post(
        change, {"old_password": "nope", "new_password": NEW_PASSWORD}, current["access"]
    )
    assert wrong.status_code == HTTPStatus.BAD_REQUEST
    assert [e["field"] for e in wrong.json()["errors"]] == ["old_password"]
    weak = api_a.post(change, {"old_password": PASSWORD, "new_password": "123"}, current["access"])
    assert weak.status_code == HTTPStatus.BAD_REQUEST
    assert {e["field"] for e in weak.json()["errors"]} == {"new_password"}

    ok = api_a.post(
        change, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, current["access"]
    )

    assert ok.status_code == HTTPStatus.OK and ok.json() == {"detail": "Password changed"}
    assert me(api_a, current["access"]) == HTTPStatus.OK
    assert (
        api_a.post("/api/auth/token/refresh/", {"refresh": current["refresh"]}).status_code == 200
    )
    assert me(api_a, other["access"]) == HTTPStatus.UNAUTHORIZED
    assert (
        api_a.post("/api/auth/token/", {"username": "alice", "password": PASSWORD}).status_code
        == 401
    )
    assert api_a.login("alice", NEW_PASSWORD)["username"] == "alice"


def test_a_password_set_any_other_way_ends_every_session(api_a, tenant_a, alice):
    pairs = [api_a.login("alice"), api_a.login("alice")]
    with schema_context(tenant_a.schema_name):  # as the admin or `changepassword` does
        user = User.objects.get(pk=alice.pk)
        user.set_password(NEW_PASSWORD)
        user.save()
    for pair in pairs:
        assert me(api_a, pair["access"]) == HTTPStatus.UNAUTHORIZED


def _legacy_refresh(tenant_a, alice) -> tokens.ClientRefreshToken:
    """A refresh token as a release without sessions (and without key pairs) issued it: no sid
    claim, HS256 with the shared secret, issued before the client's first key pair."""
    keys_made_after(tenant_a, timezone.now() + timedelta(seconds=2))
    with schema_context(tenant_a.schema_name):
        legacy = tokens.ClientRefreshToken()
        legacy["user_id"] = alice.pk
        legacy[tokens.CLIENT_ID] = tenant_a.pk
        legacy[tokens.CLIENT_NAME] = tenant_a.name
        OutstandingToken.objects.create(
            user=alice,
            jti=legacy["jti"],
            token=tokens.token_digest(str(legacy)),
            created_at=legacy.current_time,
            expires_at=datetime_from_epoch(legacy["exp"]),
        )
    return legacy


def test_a_refresh_token_from_before_sessions_keeps_working(api_a, tenant_a, alice):
    legacy = _legacy_refresh(tenant_a, alice)
    assert me(api_a, str(legacy.access_token)) == HTTPStatus.OK  # its access tokens too
    rotated = api_a.post("/api/auth/token/refresh/", {"refresh": str(legacy)})
    assert rotated.status_code == HTTPStatus.OK
    assert "sid" in claims(rotated.json()["access"])


def test_staff_end_a_customers_session_in_the_admin_but_not_an_admins(
    http_a, api_a, tenant_a, alice, make_user
):
    make_user(tenant_a, "helper", role="staff")
    make_user(tenant_a, "boss", role="admin")
    customer, boss = api_a.login("alice"), api_a.login("boss")
    sign_in(http_a, "helper")
    page = http_a.get("/admin/authapi/session/")
    assert page.status_code == HTTPStatus.OK
    for pair in (customer, boss):
        for part in pair["refresh"].split(".") + pair["access"].split("."):
            assert part.encode() not in page.content
    response = http_a.post(
        "/admin/authapi/session/",
        {
            "action": "end",
            "_selected_action": [claims(customer["access"])["sid"], claims(boss["access"])["sid"]],
        },
        follow=True,
    )
    assert b"were not ended: only an admin may" in response.content
    assert me(api_a, customer["access"]) == HTTPStatus.UNAUTHORIZED
    assert me(api_a, boss["access"]) == HTTPStatus.OK


def test_the_purge_removes_sessions_past_their_lifetime(tenant_a, alice, api_a):
    live = claims(api_a.login("alice")["access"])["sid"]
    with schema_context(tenant_a.schema_name):
        now = timezone.now()
        old = Session.objects.create(
            user=alice, created_at=now, last_used_at=now, expires_at=now - timedelta(seconds=1)
        )
    result = purge.tokens_purge_expired(schema_name=tenant_a.schema_name)
    assert result.sessions_deleted == 1
    with schema_context(tenant_a.schema_name):
        assert not Session.objects.filter(pk=old.pk).exists()
        assert Session.objects.filter(pk=live).exists()


@pytest.mark.django_db(transaction=True)
def test_a_session_ended_by_another_process_is_refused_here_at_once(
    tenant_a, make_user, clean_tenant_tables
):
    make_user(tenant_a, "remote")
    api = Api(host_client(ACME.domain))
    pair = api.login("remote")
    assert me(api, pair["access"]) == HTTPStatus.OK  # cached as live in this process
    run_in_another_process(
        "from django_tenants.utils import schema_context\n"
        "from authapi import sessions\n"
        "from authapi.models import Session\n"
        f"with schema_context({ACME.schema!r}):\n"
        "    sessions.sessions_end(sessions=Session.objects.all(), reason='revoked')\n"
    )
    deadline = time.monotonic() + 2
    while me(api, pair["access"]) == HTTPStatus.OK and time.monotonic() < deadline:
        time.sleep(0.01)
    assert me(api, pair["access"]) == HTTPStatus.UNAUTHORIZED


def _concurrent_refreshes(refresh: str, count: int) -> list[int]:
    barrier = threading.Barrier(count)
    statuses: list[int] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            status = (
                Api(host_client(ACME.domain))
                .post("/api/auth/token/refresh/", {"refresh": refresh})
                .status_code
            )
            with lock:
                statuses.append(status)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return sorted(statuses)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("grace", [0, 5])
def test_concurrent_refreshes_of_one_token(
    tenant_a, make_user, clean_tenant_tables, settings, grace
):
    settings.REFRESH_REUSE_GRACE_SECONDS = grace
    make_user(tenant_a, "racer")
    pair = Api(host_client(ACME.domain)).login("racer")

    statuses = _concurrent_refreshes(pair["refresh"], 10)

    with schema_context(tenant_a.schema_name):
        session = Session.objects.get(pk=claims(pair["refresh"])["sid"])
        rotations = OutstandingToken.objects.filter(blacklistedtoken__isnull=False).count()
    assert rotations == 1  # exactly one rotation, whatever the grace
    if grace == 0:
        # The others presented a rotated token: reuse, so the session ends.
        assert statuses == [HTTPStatus.OK] + [HTTPStatus.UNAUTHORIZED] * 9
        assert session.end_reason == "refresh_reuse"
    else:
        # Retries within the grace period get a pair of the same, still live, session.
        assert statuses == [HTTPStatus.OK] * 10
        assert session.ended_at is None


@pytest.mark.parametrize("how", ["logout-all", "password change"])
def test_a_refresh_token_from_before_sessions_dies_with_logout_all_and_password_change(
    api_a, tenant_a, alice, how
):
    legacy = _legacy_refresh(tenant_a, alice)
    current = api_a.login("alice")
    if how == "logout-all":
        assert api_a.post("/api/auth/logout-all/", token=current["access"]).status_code == 200
    else:
        body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
        assert api_a.post("/api/auth/password/change/", body, current["access"]).status_code == 200
        # The caller's own session keeps working.
        kept = api_a.post("/api/auth/token/refresh/", {"refresh": current["refresh"]})
        assert kept.status_code == HTTPStatus.OK
    refused = api_a.post("/api/auth/token/refresh/", {"refresh": str(legacy)})
    assert refused.status_code == HTTPStatus.UNAUTHORIZED


def test_logging_out_with_a_token_someone_else_rotated_first_ends_the_session(api_a, alice):
    pair = api_a.login("alice")
    thief = api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}).json()
    logout = api_a.post("/api/auth/token/blacklist/", {"refresh": pair["refresh"]})
    assert logout.status_code == HTTPStatus.UNAUTHORIZED
    assert me(api_a, thief["access"]) == HTTPStatus.UNAUTHORIZED
    assert api_a.post("/api/auth/token/refresh/", {"refresh": thief["refresh"]}).status_code == 401


def test_staff_cannot_end_a_superusers_sessions_whatever_its_role(
    http_a, api_a, tenant_a, make_user
):
    make_user(tenant_a, "helper", role="staff")
    root = make_user(tenant_a, "root")  # e.g. made by createsuperuser: customer role, superuser
    with schema_context(tenant_a.schema_name):
        User.objects.filter(pk=root.pk).update(is_superuser=True)
    pair = api_a.login("root")
    sign_in(http_a, "helper")
    http_a.post(
        "/admin/authapi/session/",
        {"action": "end", "_selected_action": [claims(pair["access"])["sid"]]},
    )
    assert me(api_a, pair["access"]) == HTTPStatus.OK


def test_deactivating_a_user_ends_every_session_and_reactivating_revives_none(
    api_a, tenant_a, alice
):
    pairs = [api_a.login("alice"), api_a.login("alice")]
    with schema_context(tenant_a.schema_name):
        alice.is_active = False
        alice.save()
        reasons = set(Session.objects.filter(user=alice).values_list("end_reason", flat=True))
    assert reasons == {Session.EndReason.DEACTIVATED}
    with schema_context(tenant_a.schema_name):
        alice.is_active = True
        alice.save()
    for pair in pairs:
        assert me(api_a, pair["access"]) == HTTPStatus.UNAUTHORIZED
        refreshed = api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})
        assert refreshed.status_code == HTTPStatus.UNAUTHORIZED
    assert me(api_a, api_a.login("alice")["access"]) == HTTPStatus.OK


def test_the_session_records_the_client_ip_through_a_trusted_proxy_only(
    api_a, tenant_a, alice, settings
):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    body = {"username": "alice", "password": PASSWORD}
    forwarded = "6.6.6.6, 203.0.113.9"  # the first hop is the client's own (forgeable) claim
    via_proxy = api_a.post(
        "/api/auth/token/", body, REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR=forwarded
    )
    spoofed = api_a.post(
        "/api/auth/token/", body, REMOTE_ADDR="198.51.100.20", HTTP_X_FORWARDED_FOR=forwarded
    )
    with schema_context(tenant_a.schema_name):
        ips = [
            Session.objects.get(pk=claims(r.json()["access"])["sid"]).ip
            for r in (via_proxy, spoofed)
        ]
    assert ips == ["203.0.113.9", "198.51.100.20"]
