"""Verify answers from a per-process user-status cache, yet a deactivated or deleted user is
refused at once — also when another process made the change."""

import time
from http import HTTPStatus

import pytest
from django_tenants.utils import schema_context

from authapi.models import User
from tests.conftest import ACME, run_in_another_process

VERIFY = "/api/auth/token/verify/"


def _verify(api, token):
    return api.post(VERIFY, {"token": token}).status_code


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["deactivate", "delete"])
def test_change_in_this_process_is_seen_at_once(api_a, tenant_a, make_user, change):
    user = make_user(tenant_a, "leaver")
    tokens = api_a.login("leaver")
    assert _verify(api_a, tokens["access"]) == HTTPStatus.OK  # cached as active now
    with schema_context(tenant_a.schema_name):
        if change == "deactivate":
            user.is_active = False
            user.save()
        else:
            user.delete()
    assert _verify(api_a, tokens["access"]) == HTTPStatus.UNAUTHORIZED
    assert _verify(api_a, tokens["refresh"]) == HTTPStatus.UNAUTHORIZED


@pytest.mark.django_db
def test_a_profile_change_is_seen_at_once_by_the_current_user_route(api_a, tenant_a, make_user):
    user = make_user(tenant_a, "renamed", first_name="Old")
    tokens = api_a.login("renamed")
    assert api_a.get("/api/user/", token=tokens["access"]).json()["first_name"] == "Old"
    with schema_context(tenant_a.schema_name):
        user.first_name = "New"
        user.save(update_fields=["first_name"])
    assert api_a.get("/api/user/", token=tokens["access"]).json()["first_name"] == "New"
    before = api_a.get("/api/user/", token=tokens["access"]).json()["last_login"]
    api_a.login("renamed")
    assert api_a.get("/api/user/", token=tokens["access"]).json()["last_login"] != before


@pytest.mark.django_db(transaction=True)
def test_deactivation_in_another_process_is_seen_at_once(
    api_a, tenant_a, make_user, clean_tenant_tables
):
    make_user(tenant_a, "remote-leaver")
    access = api_a.login("remote-leaver")["access"]
    assert _verify(api_a, access) == HTTPStatus.OK  # cached in this process
    run_in_another_process(
        "from django_tenants.utils import schema_context\n"
        "from authapi.models import User\n"
        f"with schema_context({ACME.schema!r}):\n"
        "    user = User.objects.get(username='remote-leaver')\n"
        "    user.is_active = False\n"
        "    user.save()\n"
    )
    deadline = time.monotonic() + 2
    while _verify(api_a, access) == HTTPStatus.OK and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _verify(api_a, access) == HTTPStatus.UNAUTHORIZED
    with schema_context(tenant_a.schema_name):
        assert not User.objects.get(username="remote-leaver").is_active
