"""A login string (username or email) names at most one account of a tenant."""

import threading
from http import HTTPStatus

import pytest
from django.apps import apps
from django.db import connection
from django_tenants.utils import schema_context

from authapi.models import User
from tests.admin.test_boundaries import sign_in
from tests.authapi.conftest import Api
from tests.conftest import ACME, host_client

pytestmark = pytest.mark.django_db

VICTIM_PASSWORD = "Victim-pass-2026"


def fullwidth(ascii_text: str) -> str:
    """The same letters in their full-width forms, which NFKC maps back ("admin" -> U+FF41...)."""
    return "".join(chr(ord(c) + 0xFEE0) for c in ascii_text)


ATTACKER_PASSWORD = "Attacker-pass-2026"


def _register(api, username, email, password=ATTACKER_PASSWORD):
    return api.post(
        "/api/auth/register/", {"username": username, "email": email, "password": password}
    )


def _field_errors(response):
    return {e["field"] for e in response.json().get("errors", [])}


@pytest.mark.parametrize("spelling", ["VICTIM@CORP.TEST", "victim@corp.test", "Victim@Corp.Test"])
def test_a_username_equal_to_another_accounts_email_is_refused(
    api_a, tenant_a, make_user, spelling
):
    make_user(tenant_a, "victim", email="victim@corp.test", password=VICTIM_PASSWORD)

    response = _register(api_a, spelling, "attacker@evil.test")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "username" in _field_errors(response)
    # The victim's email still logs the victim in, and the attacker's password opens nothing.
    assert api_a.login("victim@corp.test", VICTIM_PASSWORD)["username"] == "victim"
    attacker = api_a.post(
        "/api/auth/token/", {"username": "victim@corp.test", "password": ATTACKER_PASSWORD}
    )
    assert attacker.status_code == HTTPStatus.UNAUTHORIZED


def test_an_email_equal_to_another_accounts_username_is_refused(api_a, tenant_a, make_user):
    make_user(tenant_a, "bob@corp.test", email="bob.personal@home.test")

    response = _register(api_a, "mallory", "BOB@corp.test")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert _field_errors(response) == {"email"}


def test_an_account_may_use_its_own_email_as_its_username(api_a, tenant_a):
    response = _register(api_a, "carol@corp.test", "Carol@corp.test")
    assert response.status_code == HTTPStatus.CREATED, response.content
    assert api_a.login("carol@corp.test", ATTACKER_PASSWORD)["username"] == "carol@corp.test"


def test_usernames_compare_after_nfkc_normalisation(api_a, tenant_a, make_user):
    make_user(tenant_a, "admin2")

    response = _register(api_a, fullwidth("admin2"), "fullwidth@evil.test")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "username" in _field_errors(response)


def test_a_fullwidth_username_is_stored_and_logs_in_normalised(api_a, tenant_a):
    response = _register(api_a, fullwidth("dave"), "dave@corp.test")
    assert response.status_code == HTTPStatus.CREATED, response.content
    assert response.json()["username"] == "dave"
    assert api_a.login(fullwidth("dave"), ATTACKER_PASSWORD)["username"] == "dave"
    assert api_a.login("DAVE", ATTACKER_PASSWORD)["username"] == "dave"


def test_a_string_that_still_names_two_accounts_logs_in_neither(api_a, tenant_a):
    # Rows from before the rule, written past the services.
    with schema_context(tenant_a.schema_name):
        User.objects.create_user("eve@corp.test", "eve.other@corp.test", ATTACKER_PASSWORD)
        User.objects.create_user("eve", "EVE@corp.test", VICTIM_PASSWORD)
    for password in (ATTACKER_PASSWORD, VICTIM_PASSWORD):
        response = api_a.post(
            "/api/auth/token/", {"username": "eve@corp.test", "password": password}
        )
        assert response.status_code == HTTPStatus.UNAUTHORIZED
    # Each account still logs in by the string that names only it.
    assert api_a.login("eve", VICTIM_PASSWORD)["username"] == "eve"


def test_the_tenant_admin_refuses_a_username_equal_to_another_accounts_email(
    http_a, tenant_a, make_user
):
    make_user(tenant_a, "boss", role="admin")
    make_user(tenant_a, "victim", email="victim@corp.test")
    sign_in(http_a, "boss")

    response = http_a.post(
        "/admin/authapi/user/add/",
        {
            "username": "Victim@Corp.test",
            "email": "other@corp.test",
            "role": "customer",
            "password1": ATTACKER_PASSWORD,
            "password2": ATTACKER_PASSWORD,
        },
    )

    assert response.status_code == HTTPStatus.OK  # the form again, with the error
    assert b"A user with that username already exists" in response.content
    with schema_context(tenant_a.schema_name):
        assert not User.objects.filter(username__iexact="victim@corp.test").exists()


def test_the_tenant_admin_refuses_an_email_equal_to_another_accounts_username(
    http_a, tenant_a, make_user
):
    make_user(tenant_a, "boss", role="admin")
    make_user(tenant_a, "frank@corp.test", email="frank@home.test")
    target = make_user(tenant_a, "grace")
    sign_in(http_a, "boss")

    response = http_a.post(
        f"/admin/authapi/user/{target.pk}/change/",
        {
            "username": "grace",
            "email": "FRANK@corp.test",
            "role": "customer",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert b"A user with that email already exists" in response.content


def test_the_migration_normalises_stored_usernames_unless_that_would_clash(tenant_a):
    from importlib import import_module

    migration = import_module("authapi.migrations.0004_normalise_login_strings")

    def stored_as_written(username, email):
        # As a registration before this release stored it (create_user would normalise).
        user = User(username=username, email=email)
        user.set_unusable_password()
        user.save()
        return user

    with schema_context(tenant_a.schema_name):
        free = stored_as_written(fullwidth("heidi"), "heidi@corp.test")
        stored_as_written("ivan", "ivan@corp.test")
        clashing = stored_as_written(fullwidth("ivan"), "ivan2@corp.test")

        migration.normalise(apps, connection.schema_editor())

        assert User.objects.get(pk=free.pk).username == "heidi"
        assert User.objects.get(pk=clashing.pk).username == fullwidth("ivan")


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_string_as_username_and_as_email_one_wins(
    tenant_a, clean_tenant_tables
):
    rounds, results = 5, []
    lock = threading.Lock()
    for n in range(rounds):
        barrier = threading.Barrier(2)
        login = f"race{n}@corp.test"

        def register(username: str, email: str) -> None:
            try:
                barrier.wait(timeout=30)
                response = _register(Api(host_client(ACME.domain)), username, email)
                with lock:
                    results.append((login, response.status_code))
            finally:
                connection.close()

        threads = [
            threading.Thread(target=register, args=(login, f"other{n}@corp.test")),
            threading.Thread(target=register, args=(f"racer{n}", login.upper())),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)

    for n in range(rounds):
        statuses = sorted(s for login, s in results if login == f"race{n}@corp.test")
        assert statuses == [HTTPStatus.CREATED, HTTPStatus.BAD_REQUEST], statuses
    with schema_context(tenant_a.schema_name):
        for n in range(rounds):
            login = f"race{n}@corp.test"
            named = User.objects.filter(username__iexact=login) | User.objects.filter(
                email__iexact=login
            )
            assert named.count() == 1
