"""Audit events (SPEC §10): one test per event type through the real middleware, the API and
admin lists, tenant isolation, retention, and a scan of every stored event for the passwords and
tokens the tests used."""

from __future__ import annotations

import json
from datetime import timedelta
from http import HTTPStatus

import jwt
import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from audit.models import AuditEvent
from authapi import purge, sessions
from authapi.models import Session, User
from signing.services import key_rotate
from tests.admin.test_boundaries import sign_in
from tests.authapi.conftest import PASSWORD, Api
from tests.protection.conftest import from_ip

pytestmark = pytest.mark.django_db

UA = "AuditAgent/1.0"
NEW_PASSWORD = "Brand-new-passphrase-9"
SECRETS: set[str] = {PASSWORD, NEW_PASSWORD}  # grows with every token the tests see


def events(tenant, event: str | None = None) -> list[AuditEvent]:
    with schema_context(tenant.schema_name):
        found = AuditEvent.objects.order_by("-at", "-id")
        return list(found.filter(event=event) if event else found)


def remember(*values: str) -> None:
    SECRETS.update(v for v in values if v)


def login(api: Api, username: str, password: str = PASSWORD) -> dict:
    response = api.post(
        "/api/auth/token/",
        {"username": username, "password": password},
        HTTP_USER_AGENT=UA,
        **from_ip("203.0.113.5"),
    )
    if response.status_code == 200:
        remember(response.json()["access"], response.json()["refresh"])
    return response


@pytest.fixture(autouse=True)
def _no_secret_stored(db, tenant_a, tenant_b):
    """After every test here, before its rows are rolled back: no password or token the test
    used, whole, in any text of any event, in either tenant or public."""
    SECRETS.clear()
    SECRETS.update({PASSWORD, NEW_PASSWORD})
    yield
    found = []
    for schema in (tenant_a.schema_name, tenant_b.schema_name, "public"):
        with schema_context(schema):
            for event in AuditEvent.objects.all():
                text = json.dumps([event.username, event.user_agent, event.detail, str(event.ip)])
                found += [(schema, event.event) for secret in SECRETS if secret in text]
    assert found == []


@pytest.fixture
def gina(tenant_a, make_user) -> User:
    return make_user(tenant_a, "gina")


@pytest.fixture
def trusted(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]


def test_login_succeeded_with_ip_user_agent_and_session(api_a, tenant_a, gina, trusted):
    pair = login(api_a, "gina").json()
    (event,) = events(tenant_a, "login_succeeded")
    assert event.user_id == gina.pk and event.username == "gina"
    assert event.ip == "203.0.113.5" and event.user_agent == UA
    assert (
        str(event.session_id)
        == jwt.decode(pair["access"], options={"verify_signature": False})["sid"]
    )


def test_login_failed_keeps_the_name_as_typed_for_unknown_and_known(api_a, tenant_a, gina, trusted):
    login(api_a, "gina", "wrong-password-1")
    login(api_a, "Nobody@Example.test", "wrong-password-2")
    failed = events(tenant_a, "login_failed")
    assert {(e.username, e.user_id) for e in failed} == {
        ("gina", gina.pk),
        ("Nobody@Example.test", None),
    }
    remember("wrong-password-1", "wrong-password-2")


def test_login_blocked_and_unblocked(api_a, http_a, tenant_a, gina, limits, make_user):
    for _ in range(10):
        login(api_a, "gina", "wrong-password-3")
    assert login(api_a, "gina").status_code == HTTPStatus.TOO_MANY_REQUESTS
    (blocked,) = events(tenant_a, "login_blocked")
    assert blocked.username == "gina" and blocked.detail == {"scope": "account"}
    make_user(tenant_a, "auditadmin", role="admin")
    sign_in(http_a, "auditadmin")
    from authapi import protection

    (block,) = protection.blocked_list(schema=tenant_a.schema_name)
    http_a.post("/admin/blocked-logins/", {"block": block.id})
    (unblocked,) = events(tenant_a, "login_unblocked")
    assert unblocked.username == "gina" and unblocked.detail["blocked_ip"] == "203.0.113.5"
    remember("wrong-password-3")


def test_refresh_reuse_detected_and_session_ended_with_its_reason(api_a, tenant_a, gina):
    pair = login(api_a, "gina").json()
    rotated = api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}).json()
    remember(rotated["access"], rotated["refresh"])
    api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})  # reuse
    (reuse,) = events(tenant_a, "refresh_reuse_detected")
    sid = jwt.decode(pair["access"], options={"verify_signature": False})["sid"]
    assert reuse.user_id == gina.pk and str(reuse.session_id) == sid
    (ended,) = events(tenant_a, "session_ended")
    assert ended.detail == {"reason": "refresh_reuse"} and str(ended.session_id) == sid


@pytest.mark.parametrize(
    "how,reason",
    [("logout", "logout"), ("logout-all", "logout_all"), ("end-one", "ended")],
)
def test_session_ended_for_each_way_of_ending(api_a, tenant_a, gina, how, reason):
    pair = login(api_a, "gina").json()
    if how == "logout":
        api_a.post("/api/auth/token/blacklist/", {"refresh": pair["refresh"]})
    elif how == "logout-all":
        api_a.post("/api/auth/logout-all/", {}, token=pair["access"])
    else:
        sid = jwt.decode(pair["access"], options={"verify_signature": False})["sid"]
        other = login(api_a, "gina").json()
        api_a.http.delete(
            f"/api/auth/sessions/{sid}/", HTTP_AUTHORIZATION=f"Bearer {other['access']}"
        )
    assert reason in [e.detail["reason"] for e in events(tenant_a, "session_ended")]


def test_password_changed_by_the_owner_and_by_an_admin(api_a, tenant_a, gina):
    pair = login(api_a, "gina").json()
    api_a.post(
        "/api/auth/password/change/",
        {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
        token=pair["access"],
    )
    with schema_context(tenant_a.schema_name):
        user = User.objects.get(pk=gina.pk)
        user.set_password("Admin-set-password-77")
        user.save()
    remember("Admin-set-password-77")
    changed = events(tenant_a, "password_changed")
    assert [e.detail["by"] for e in changed] == ["other", "owner"]
    reasons = {e.detail["reason"] for e in events(tenant_a, "session_ended")}
    assert reasons == {"password_changed"}


def test_user_registered_role_changed_and_user_deactivated(api_a, tenant_a):
    response = api_a.post(
        "/api/auth/register/",
        {"username": "newbie", "email": "newbie@acme.test", "password": "Newbie-pass-2026"},
    )
    remember("Newbie-pass-2026", response.json()["access"], response.json()["refresh"])
    (registered,) = events(tenant_a, "user_registered")
    assert registered.username == "newbie" and registered.detail["role"] == "customer"
    with schema_context(tenant_a.schema_name):
        from authapi.services import user_save

        user = User.objects.get(username="newbie")
        user_save(user=user, role="staff")
        user.is_active = False
        user.save()
    (role,) = events(tenant_a, "role_changed")
    assert role.detail == {"from": "customer", "to": "staff"}
    (deactivated,) = events(tenant_a, "user_deactivated")
    assert deactivated.user_id == registered.user_id


def test_api_token_created_and_revoked_without_any_part_of_the_key(api_a, tenant_a, gina):
    access = login(api_a, "gina").json()["access"]
    made = api_a.post("/api/auth/api-tokens/", {"name": "audited"}, token=access).json()
    remember(made["token"], made["prefix"])
    api_a.http.delete(f"/api/auth/api-tokens/{made['id']}/", HTTP_AUTHORIZATION=f"Bearer {access}")
    (created,) = events(tenant_a, "api_token_created")
    assert created.detail == {"token_id": made["id"], "name": "audited"}
    (revoked,) = events(tenant_a, "api_token_revoked")
    assert revoked.detail == {"token_id": made["id"], "by": "owner"}


def test_signing_key_rotated_goes_to_the_clients_trail(tenant_a, tenant_b):
    key = key_rotate(client=tenant_a)
    (rotated,) = events(tenant_a, "signing_key_rotated")
    assert rotated.detail == {"kid": key.kid, "retire_previous": False}
    assert events(tenant_b, "signing_key_rotated") == []


def test_the_platform_trail_has_onboarding_changes_and_deactivation(operator_http, tenant_a):
    from audit.models import AuditEvent as Event
    from tests.admin.test_onboarding import FORM

    operator_http.post("/admin/tenants/client/add/", FORM)
    remember(FORM["admin_password"])
    url = f"/admin/tenants/client/{tenant_a.pk}/change/"
    base = {
        "name": "Acme Renamed",
        "allowed_origins": "",
        "domains-TOTAL_FORMS": "0",
        "domains-INITIAL_FORMS": "0",
        "signing_keys-TOTAL_FORMS": "0",
        "signing_keys-INITIAL_FORMS": "0",
    }
    operator_http.post(url, {**base, "is_active": "on"})
    operator_http.post(url, base)  # is_active off
    with schema_context("public"):
        kinds = list(Event.objects.order_by("at", "id").values_list("event", flat=True))
    assert kinds[-3:] == ["client_onboarded", "client_changed", "client_deactivated"]
    from tenants.models import Client

    Client.objects.filter(pk=tenant_a.pk).update(name="Acme Corp", is_active=True)


def test_the_audit_api_for_staff_and_admin_with_filters_and_not_for_customers(
    api_a, api_b, tenant_a, tenant_b, gina, make_user
):
    make_user(tenant_a, "auditstaff", role="staff")
    login(api_a, "gina", "wrong-password-4")
    remember("wrong-password-4")
    staff = login(api_a, "auditstaff").json()["access"]
    customer = login(api_a, "gina").json()["access"]
    listed = api_a.get("/api/audit/", token=staff).json()
    assert listed["count"] >= 3
    assert listed["items"][0]["event"] == "login_succeeded"  # newest first
    failed = api_a.get("/api/audit/?event=login_failed", token=staff).json()
    assert {i["event"] for i in failed["items"]} == {"login_failed"}
    mine = api_a.get(f"/api/audit/?user_id={gina.pk}&limit=1", token=staff).json()
    assert len(mine["items"]) == 1 and mine["items"][0]["user_id"] == gina.pk
    assert api_a.get("/api/audit/", token=customer).status_code == HTTPStatus.FORBIDDEN
    bad = api_a.get("/api/audit/?user_id=abc", token=staff)
    assert bad.status_code == HTTPStatus.BAD_REQUEST
    # Another tenant's trail holds none of these, and this tenant's token is no good there.
    assert api_b.get("/api/audit/", token=staff).status_code == HTTPStatus.UNAUTHORIZED
    make_user(tenant_b, "globexstaff", role="staff")
    theirs = login(api_b, "globexstaff").json()["access"]
    usernames = {i["username"] for i in api_b.get("/api/audit/", token=theirs).json()["items"]}
    assert usernames == {"globexstaff"}


def test_the_tenant_admin_lists_events_read_only_with_filters(http_a, tenant_a, gina, make_user):
    make_user(tenant_a, "auditviewer", role="staff")
    sign_in(http_a, "auditviewer")
    page = http_a.get("/admin/audit/auditevent/?event__exact=login_succeeded")
    assert page.status_code == HTTPStatus.OK and b"auditviewer" in page.content
    assert http_a.get("/admin/audit/auditevent/add/").status_code == HTTPStatus.FORBIDDEN
    # Only the list filters (and an exact user id) in the URL: no probing of other columns.
    probe = http_a.get("/admin/audit/auditevent/?detail__icontains=x")
    assert probe.status_code == HTTPStatus.BAD_REQUEST


def test_the_purge_deletes_events_past_their_retention(tenant_a, gina, settings):
    with schema_context(tenant_a.schema_name):
        old = AuditEvent.objects.create(
            at=timezone.now() - timedelta(days=91), event="login_failed"
        )
        recent = AuditEvent.objects.create(
            at=timezone.now() - timedelta(days=89), event="login_failed"
        )
    result = purge.tokens_purge_expired(schema_name=tenant_a.schema_name)
    assert result.audit_events_deleted >= 1
    with schema_context(tenant_a.schema_name):
        assert not AuditEvent.objects.filter(pk=old.pk).exists()
        assert AuditEvent.objects.filter(pk=recent.pk).exists()


def test_sessions_end_writes_exactly_one_event_per_session_ended(tenant_a, gina):
    with schema_context(tenant_a.schema_name):
        now = timezone.now()
        for _ in range(3):
            Session.objects.create(
                user=gina, created_at=now, last_used_at=now, expires_at=now + timedelta(days=1)
            )
        assert (
            sessions.sessions_end(sessions=Session.objects.filter(user=gina), reason="revoked") == 3
        )
        assert (
            sessions.sessions_end(sessions=Session.objects.filter(user=gina), reason="revoked") == 0
        )
    assert len(events(tenant_a, "session_ended")) == 3


def test_a_credential_pasted_into_the_name_field_is_withheld(api_a, tenant_a, trusted):
    pasted = "tat_" + "Q" * 43
    jwt_like = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    remember(pasted, jwt_like)
    login(api_a, pasted, "wrong-password-5")
    login(api_a, jwt_like, "wrong-password-6")
    remember("wrong-password-5", "wrong-password-6")
    names = {e.username for e in events(tenant_a, "login_failed")}
    assert names == {"[credential-like input withheld]"}


def test_a_block_is_recorded_once_however_often_it_refuses(api_a, tenant_a, gina, limits):
    for _ in range(10):
        login(api_a, "gina", "wrong-password-7")
    for _ in range(5):
        assert login(api_a, "gina").status_code == HTTPStatus.TOO_MANY_REQUESTS
    remember("wrong-password-7")
    assert len(events(tenant_a, "login_blocked")) == 1
