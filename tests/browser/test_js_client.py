"""The JavaScript client (clients/js, built) in headless Chromium, from a page on another origin
than the API, against a live gunicorn with two workers whose access tokens live 4 seconds
(ACCESS_TOKEN_LIFETIME_SECONDS in the server's environment): the whole token cycle in bearer and
cookie modes, single-flight refresh within a page and across tabs, and cookie mode's promises
that JavaScript never sees a JWT and that logout leaves none behind.

The page is served on `app.acme.localhost` and the API on `acme.localhost`: two origins of one
site, as a frontend at app.example.com calling auth.example.com would be.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tenants.models import Client
from tests.browser.live import api_server, static_server
from tests.conftest import ACME

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ACCESS_LIFETIME = 4
PASSWORD = "Browser-cycle-2026!"


@dataclass
class Stack:
    api: str  # http://acme.localhost:PORT
    page_origin: str  # http://app.acme.localhost:PORT2
    refreshes: list[str] = field(default_factory=list)


@pytest.fixture
def stack(tenant_a, clean_tenant_tables) -> Iterator[Stack]:
    with static_server() as static_port:
        origin = f"http://app.{ACME.domain}:{static_port}"
        client = Client.objects.get(pk=tenant_a.pk)
        client.allowed_origins = [origin]
        client.save()
        with api_server(access_lifetime=ACCESS_LIFETIME) as api_port:
            yield Stack(api=f"http://{ACME.domain}:{api_port}", page_origin=origin)


def open_page(context: BrowserContext, stack: Stack) -> Page:
    """A page of the frontend's origin that counts the refresh requests it makes."""
    page = context.new_page()
    page.on(
        "request",
        lambda r: (
            stack.refreshes.append(r.url) if r.method == "POST" and "refresh" in r.url else None
        ),
    )
    page.goto(f"{stack.page_origin}/example/?base={stack.api}")
    return page


SETUP = """async ([base, mode]) => {
    const { createAuthClient } = await import("/dist/index.js");
    window.client = createAuthClient({ baseUrl: base, mode });
    return true;
}"""


def call(page: Page, script: str, *args: Any) -> Any:
    return page.evaluate(f"async (args) => {{ const c = window.client; {script} }}", list(args))


def register(page: Page, username: str) -> dict[str, Any]:
    return call(
        page,
        "return await c.register({username: args[0], email: args[1], password: args[2]});",
        username,
        f"{username}@acme.test",
        PASSWORD,
    )


def me(page: Page) -> dict[str, Any]:
    return call(
        page,
        "const r = await c.fetch('/api/user/'); return {status: r.status, body: await r.json()};",
    )


def wait_for_expiry(page: Page) -> None:
    page.wait_for_timeout((ACCESS_LIFETIME + 1) * 1000)


def replay_refresh(stack: Stack, mode: str, refresh: str, csrf: str | None) -> int:
    """Present an old refresh token from outside the browser, as a thief would."""
    if mode == "bearer":
        path, body, headers = "/api/auth/token/refresh/", {"refresh": refresh}, {}
    else:
        path, body = "/api/auth/cookie/refresh/", {}
        headers = {
            "Cookie": f"refresh_token={refresh}; csrftoken={csrf}",
            "X-CSRFToken": csrf or "",
        }
    # Python does not resolve *.localhost as browsers do: connect to loopback, name the host.
    port = urlsplit(stack.api).port
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Host": ACME.domain, **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def jwt_cookies(context: BrowserContext) -> dict[str, str]:
    return {
        c["name"]: c["value"]
        for c in context.cookies()
        if c["name"] in ("access_token", "refresh_token") and c["value"]
    }


def stored_refresh(page: Page, stack: Stack) -> str:
    return page.evaluate(
        "(key) => localStorage.getItem(key)", f"tenantauth:bearer:{stack.api}:refresh"
    )


@pytest.mark.parametrize("mode", ["bearer", "cookie"])
def test_the_whole_cycle_of_the_source_notes(stack: Stack, browser: Browser, mode: str) -> None:
    context = browser.new_context()
    page = open_page(context, stack)
    page.evaluate(SETUP, [stack.api, mode])
    # register -> current user
    user = register(page, f"cycle-{mode}")
    assert user["username"] == f"cycle-{mode}"
    assert me(page)["body"]["username"] == f"cycle-{mode}"
    if mode == "bearer":
        old_refresh, csrf = stored_refresh(page, stack), None
    else:
        old_refresh = jwt_cookies(context)["refresh_token"]
        csrf = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
    # access expires -> transparent refresh
    wait_for_expiry(page)
    before = len(stack.refreshes)
    answer = me(page)
    assert answer["status"] == 200 and answer["body"]["username"] == f"cycle-{mode}"
    assert len(stack.refreshes) == before + 1
    # the old refresh token is refused (and, being reuse, ends the session)
    assert replay_refresh(stack, mode, old_refresh, csrf) == 401
    # logout -> refresh refused
    call(page, "await c.logout(); return true;")
    assert call(page, "return c.isAuthenticated();") is False
    assert call(page, "return await c.refresh();") is False
    assert me(page)["status"] == 401
    # login again
    again = call(page, "return await c.login(args[0], args[1]);", f"cycle-{mode}", PASSWORD)
    assert again["username"] == f"cycle-{mode}"
    assert me(page)["status"] == 200
    context.close()


@pytest.mark.parametrize("mode", ["bearer", "cookie"])
def test_five_concurrent_calls_at_expiry_make_one_refresh_and_all_succeed(
    stack: Stack, browser: Browser, mode: str
) -> None:
    context = browser.new_context()
    page = open_page(context, stack)
    page.evaluate(SETUP, [stack.api, mode])
    register(page, f"five-{mode}")
    wait_for_expiry(page)
    before = len(stack.refreshes)
    statuses = call(
        page,
        "const rs = await Promise.all([1,2,3,4,5].map(() => c.fetch('/api/user/')));"
        "return rs.map(r => r.status);",
    )
    assert statuses == [200] * 5
    assert len(stack.refreshes) == before + 1
    context.close()


@pytest.mark.parametrize("mode", ["bearer", "cookie"])
def test_two_tabs_at_expiry_both_keep_working_without_tripping_reuse_detection(
    stack: Stack, browser: Browser, mode: str
) -> None:
    context = browser.new_context()  # one browser profile: shared storage and cookies
    first, second = open_page(context, stack), open_page(context, stack)
    for page in (first, second):
        page.evaluate(SETUP, [stack.api, mode])
    register(first, f"tabs-{mode}")
    assert me(second)["status"] == 200  # the second tab uses what the first stored
    wait_for_expiry(first)
    before = len(stack.refreshes)
    script = (
        "const rs = await Promise.all([1,2,3].map(() => c.fetch('/api/user/')));"
        "return rs.map(r => r.status);"
    )
    handles = [
        page.evaluate_handle(f"(async () => {{ const c = window.client; {script} }})()")
        for page in (first, second)
    ]
    results = [handle.json_value() for handle in handles]
    assert results == [[200, 200, 200], [200, 200, 200]]
    assert len(stack.refreshes) == before + 1, stack.refreshes[before:]
    # No reuse was detected: the session lives on in both tabs, refresh after refresh.
    wait_for_expiry(second)
    assert me(second)["status"] == 200 and me(first)["status"] == 200
    context.close()


def test_in_cookie_mode_javascript_never_sees_a_jwt_and_logout_leaves_none(
    stack: Stack, browser: Browser
) -> None:
    context = browser.new_context()
    page = open_page(context, stack)
    page.evaluate(SETUP, [stack.api, "cookie"])
    register(page, "nojwt")
    assert set(jwt_cookies(context)) == {"access_token", "refresh_token"}
    stored = page.evaluate("() => JSON.stringify(Object.assign({}, localStorage))")
    # On the API's own host too: the JWT cookies are HttpOnly.
    api_page = context.new_page()
    api_page.goto(f"{stack.api}/api/hello")
    for seen in (
        page.evaluate("() => document.cookie"),
        api_page.evaluate("() => document.cookie"),
        stored,
    ):
        assert "access_token" not in seen and "refresh_token" not in seen and "eyJ" not in seen
    wait_for_expiry(page)
    assert me(page)["status"] == 200  # refreshed through the cookies
    assert "eyJ" not in page.evaluate("() => JSON.stringify(Object.assign({}, localStorage))")
    call(page, "await c.logout(); return true;")
    assert jwt_cookies(context) == {}
    context.close()


def test_the_example_page_registers_shows_the_user_refreshes_and_logs_out(
    stack: Stack, browser: Browser
) -> None:
    context = browser.new_context()
    page = open_page(context, stack)
    page.select_option("#mode", "cookie")
    page.fill("#username", "example-user")
    page.fill("#email", "example-user@acme.test")
    page.fill("#password", PASSWORD)
    page.click("#register")
    page.wait_for_selector("body[data-status=authenticated]")
    assert "example-user" in page.inner_text("#user")
    before = len(stack.refreshes)
    with page.expect_response(lambda r: "/api/auth/cookie/refresh/" in r.url) as refreshed:
        page.click("#refresh")
    assert refreshed.value.status == 200 and len(stack.refreshes) == before + 1
    assert "example-user" in page.inner_text("#user")
    page.click("#logout")
    page.wait_for_selector("body[data-status=anonymous]")
    assert jwt_cookies(context) == {}
    context.close()
