"""/api/docs renders in headless Chromium with every request to another host blocked: Swagger UI
comes from the static files that Django Ninja ships, not from a CDN."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Route, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_docs_page_renders_every_operation_with_other_hosts_blocked(live_server, tenant_a, browser):
    port = urlsplit(live_server.url).port
    base = f"http://acme.localhost:{port}"
    blocked: list[str] = []

    def only_this_host(route: Route) -> None:
        if urlsplit(route.request.url).netloc == f"acme.localhost:{port}":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context = browser.new_context()
    context.route("**/*", only_this_host)
    page = context.new_page()
    try:
        page.goto(f"{base}/api/docs")
        operations = page.locator(".opblock")
        expect(operations.first).to_be_visible(timeout=15_000)
        document = page.evaluate("fetch('/api/openapi.json').then(r => r.json())")
        expected = sum(len(ops) for ops in document["paths"].values())
        expect(operations).to_have_count(expected)
        expect(page.locator(".info .title")).to_contain_text("tenantauth")
    finally:
        context.close()
    assert blocked == [], f"the docs page asked other hosts for {blocked}"
