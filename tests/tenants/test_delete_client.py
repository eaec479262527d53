import pytest
from django_tenants.utils import schema_exists

from core.errors import InvalidInput
from onboarding.services import client_onboard
from tenants.models import Client, Domain
from tenants.services import client_delete
from tests.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.django_db


def test_client_delete_removes_schema_domains_and_row(public_tenant):
    client = client_onboard(
        name="Short Lived",
        schema_name="short_lived",
        domain="short-lived.localhost",
        admin_username="owner",
        admin_email="owner@short.test",
        admin_password=ADMIN_PASSWORD,
    )
    Domain.objects.create(domain="alias.short-lived.localhost", tenant=client, is_primary=False)

    client_delete(client=client)

    assert not schema_exists("short_lived")
    assert not Client.objects.filter(schema_name="short_lived").exists()
    assert not Domain.objects.filter(domain__endswith="short-lived.localhost").exists()


def test_the_public_tenant_cannot_be_deleted(public_tenant):
    with pytest.raises(InvalidInput):
        client_delete(client=public_tenant)
    assert schema_exists("public")
