"""No column of any table, public or tenant, holds a usable refresh token: digests only (SPEC §7),
and rows stored before the upgrade are rewritten without logging anybody out."""

from http import HTTPStatus
from importlib import import_module

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from ninja_jwt.token_blacklist.models import OutstandingToken

from authapi.tokens import token_digest
from tests.authapi.conftest import PASSWORD
from tests.conftest import ACME

pytestmark = pytest.mark.django_db

_TEXT_COLUMNS = """
SELECT table_schema, table_name, column_name FROM information_schema.columns
WHERE table_schema IN (%s, 'public') AND data_type IN ('text', 'character varying')
"""


def _columns_holding(needles: list[str]) -> list[str]:
    found = []
    with connection.cursor() as cursor:
        cursor.execute(_TEXT_COLUMNS, [ACME.schema])
        for schema, table, column in cursor.fetchall():
            for needle in needles:
                cursor.execute(
                    f'SELECT 1 FROM "{schema}"."{table}" WHERE strpos("{column}", %s) > 0 LIMIT 1',
                    [needle],
                )
                if cursor.fetchone():
                    found.append(f"{schema}.{table}.{column}")
    return found


def test_no_text_column_anywhere_holds_a_token_after_login_refresh_and_logout(
    api_a, tenant_a, make_user
):
    make_user(tenant_a, "scanned")
    first = api_a.login("scanned")
    rotated = api_a.post("/api/auth/token/refresh/", {"refresh": first["refresh"]}).json()
    api_a.post("/api/auth/token/blacklist/", {"refresh": rotated["refresh"]})
    second = api_a.login("scanned")
    secrets = []
    for pair in (first, rotated, second):
        for raw in (pair["refresh"], pair["access"]):
            secrets.append(raw.rsplit(".", 1)[-1])  # the signature alone is enough to look for
            secrets.append(raw.split(".")[1])  # and the payload
    assert _columns_holding(secrets) == []
    with schema_context(tenant_a.schema_name):
        stored = set(OutstandingToken.objects.values_list("token", flat=True))
    assert token_digest(second["refresh"]) in stored


def test_the_upgrade_digests_stored_tokens_and_they_keep_working(api_a, tenant_a, make_user):
    make_user(tenant_a, "upgraded")
    pair = api_a.login("upgraded")
    with schema_context(tenant_a.schema_name):
        # As a release before this one stored it: the token's text.
        OutstandingToken.objects.filter(user__username="upgraded").update(token=pair["refresh"])
        migration = import_module("authapi.migrations.0005_outstanding_token_digests")
        with connection.cursor() as cursor:
            cursor.execute(migration._DIGEST_ROWS.replace("%%", "%"))
        stored = OutstandingToken.objects.get(user__username="upgraded").token
    assert stored == token_digest(pair["refresh"])
    refreshed = api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert refreshed.status_code == HTTPStatus.OK


def test_no_text_column_anywhere_holds_an_api_key_or_a_token_after_all_ways_of_making_them(
    api_a, tenant_a, make_user
):
    """Login, register, rotation, and API keys made both ways: neither secret is in any text
    column of the public or the tenant schema, whole or its random part."""
    make_user(tenant_a, "keyscanned")
    pair = api_a.login("keyscanned")
    registered = api_a.post(
        "/api/auth/register/",
        {"username": "scanreg", "email": "scanreg@acme.test", "password": "Scan-reg-pass-2026"},
    ).json()
    rotated = api_a.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}).json()
    with_bearer = api_a.post("/api/auth/api-tokens/", {"name": "a"}, token=rotated["access"])
    with_password = api_a.post(
        "/api/auth/api-tokens/", {"username": "keyscanned", "password": PASSWORD}
    )
    keys = [with_bearer.json()["token"], with_password.json()["token"]]
    secrets = [key[4:] for key in keys]  # without the public "tat_"
    secrets += [key[12:] for key in keys]  # the part the prefix does not show
    for tokens in (pair, registered, rotated):
        for raw in (tokens["refresh"], tokens["access"]):
            secrets.append(raw.rsplit(".", 1)[-1])
    assert _columns_holding(secrets) == []
