"""End to end in real headless Chromium (Debian's package, driven by Playwright).

Sign in to the public admin, onboard a client through the form, sign in to that client's admin at
its own *.localhost host with the first admin, see the account listed, revoke a refresh token in
the admin and show over the API that it no longer refreshes.
"""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from playwright.sync_api import Page, expect

from authapi.services import user_create
from tests.authapi.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_CLIENT = {
    "name": "Newco Ltd",
    "schema": "newco",
    "admin_username": "firstadmin",
    "admin_email": "first@newco.test",
    "admin_password": "N3wco-first-admin!",
}


@pytest.fixture
def drop_new_schema() -> Iterator[None]:
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {NEW_CLIENT['schema']} CASCADE")


@pytest.fixture
def operator(public_tenant) -> None:
    # Before the browser starts: Playwright's sync API runs an event loop in this thread, and
    # Django refuses ORM calls while one is running.
    with schema_context("public"):
        user_create(username="operator", email="op@platform.test", password=PASSWORD, role="admin")


def api_post(page: Page, path: str, body: dict[str, str]) -> dict:
    """POST JSON from the page itself, as a tenant frontend would (same origin, real browser)."""
    return page.evaluate(
        """async ([path, body]) => {
            const r = await fetch(path, {
                method: "POST",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify(body),
            });
            return {status: r.status, body: await r.json()};
        }""",
        [path, body],
    )


def sign_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def test_operator_onboards_a_client_whose_admin_then_revokes_a_token(
    live_server, operator, drop_new_schema, browser, tmp_path
):
    port = urlsplit(live_server.url).port
    public = f"http://localhost:{port}"
    tenant = f"http://{NEW_CLIENT['schema']}.localhost:{port}"
    context = browser.new_context()
    page = context.new_page()
    try:
        # 1. Platform operator signs in on the public host and onboards a client in one form.
        sign_in(page, public, "operator", PASSWORD)
        page.goto(f"{public}/admin/tenants/client/add/")
        page.fill("#id_name", NEW_CLIENT["name"])
        page.fill("#id_schema_name", NEW_CLIENT["schema"])
        page.fill("#id_domain", f"{NEW_CLIENT['schema']}.localhost")
        page.fill("#id_admin_username", NEW_CLIENT["admin_username"])
        page.fill("#id_admin_email", NEW_CLIENT["admin_email"])
        page.fill("#id_admin_password", NEW_CLIENT["admin_password"])
        page.click("input[name=_save]")
        expect(page.locator("ul.messagelist")).to_contain_text("was added successfully")
        expect(page.locator("#result_list")).to_contain_text(f"{NEW_CLIENT['schema']}.localhost")

        # 2. The client's first admin signs in on the client's own host and sees the account.
        sign_in(page, tenant, NEW_CLIENT["admin_username"], NEW_CLIENT["admin_password"])
        page.goto(f"{tenant}/admin/authapi/user/")
        expect(page.locator("#result_list")).to_contain_text(NEW_CLIENT["admin_username"])

        # 3. A frontend on the client's host logs in over the API (fetch from the page), which
        #    records an outstanding refresh token.
        login = api_post(
            page,
            "/api/auth/token/",
            {"username": NEW_CLIENT["admin_username"], "password": NEW_CLIENT["admin_password"]},
        )
        assert login["status"] == HTTPStatus.OK, login
        refresh = login["body"]["refresh"]

        # 4. The admin revokes it in the admin...
        page.goto(f"{tenant}/admin/token_blacklist/outstandingtoken/")
        page.check("input[name=_selected_action]")
        page.select_option("select[name=action]", "revoke")
        page.click("button[name=index]")
        expect(page.locator("ul.messagelist")).to_contain_text("Revoked 1 token(s).")
        page.screenshot(path=str(tmp_path / "revoked.png"), full_page=True)

        # 5. ...and the token no longer refreshes.
        refused = api_post(page, "/api/auth/token/refresh/", {"refresh": refresh})
        assert refused["status"] == HTTPStatus.UNAUTHORIZED
        assert refused["body"]["code"] == "token_not_valid"
    finally:
        context.close()
