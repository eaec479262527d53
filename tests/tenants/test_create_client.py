from io import StringIO

import pytest
from django.contrib.auth.hashers import get_hasher, identify_hasher
from django.core.management import call_command
from django_tenants.utils import schema_exists

from authapi.models import Role, User
from tenants.models import Client, Domain
from tests.conftest import ACME

pytestmark = pytest.mark.django_db

ARGS = dict(
    name="Initech",
    schema="initech",
    domain="initech.localhost",
    admin_username="admin",
    admin_email="admin@initech.test",
)


def run(**overrides):
    options = {**ARGS, "admin_password": "Sup3r-secret-pass", **overrides}
    argv = []
    for key, value in options.items():
        if value is not None:
            argv += [f"--{key.replace('_', '-')}", value]
    out, err = StringIO(), StringIO()
    try:
        call_command("create_client", *argv, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_create_client_onboards_schema_domain_and_admin(public_tenant, in_schema):
    code, out, err = run()
    assert code == 0, err
    client = Client.objects.get(schema_name="initech")
    assert out.strip() == str(client.id)
    assert client.name == "Initech" and client.is_active
    assert schema_exists("initech")
    domain = Domain.objects.get(domain="initech.localhost")
    assert domain.tenant == client and domain.is_primary
    with in_schema(client):
        admin = User.objects.get(username="admin")
        assert admin.role == Role.ADMIN and admin.is_staff and admin.is_superuser
        assert admin.check_password("Sup3r-secret-pass")
        # Hashed with the configured default hasher (Argon2id in production: test_settings).
        assert identify_hasher(admin.password).algorithm == get_hasher("default").algorithm


def test_create_client_reads_the_password_from_the_environment(public_tenant, monkeypatch):
    monkeypatch.setenv("CLIENT_ADMIN_PASSWORD", "Fr0m-the-environment")
    code, _, err = run(admin_password=None)
    assert code == 0, err


def _assert_nothing_made():
    assert not Client.objects.filter(schema_name="initech").exists()
    assert not Domain.objects.filter(domain="initech.localhost").exists()
    assert not schema_exists("initech")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"schema": ACME.schema, "domain": "fresh.localhost"}, "already exists"),
        ({"schema": "public"}, "invalid schema name"),
        ({"schema": "pg_catalog"}, "invalid schema name"),
        ({"schema": 'bad"; drop'}, "invalid schema name"),
        ({"schema": "Has-Dash"}, "invalid schema name"),
        ({"domain": ACME.domain}, "already in use"),
        ({"domain": "not a host"}, "invalid domain"),
        ({"admin_password": "123"}, "too short"),
        ({"admin_password": None}, "admin password missing"),
    ],
)
def test_create_client_errors_are_one_line_exit_1_and_leave_nothing(
    tenant_a, overrides, message, monkeypatch
):
    monkeypatch.delenv("CLIENT_ADMIN_PASSWORD", raising=False)
    clients_before = Client.objects.count()
    code, out, err = run(**overrides)
    assert code == 1
    assert message in err
    assert err.strip().count("\n") == 0 and err.startswith("error: ")
    assert out == ""
    assert Client.objects.count() == clients_before
    _assert_nothing_made()


def test_a_failure_during_onboarding_leaves_no_schema_and_no_domain(public_tenant, monkeypatch):
    """Force the last step (creating the admin) to fail after schema and domain were made."""
    import authapi.services

    def explode(**_):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(authapi.services, "user_create", explode)
    with pytest.raises(RuntimeError):
        run()
    _assert_nothing_made()
