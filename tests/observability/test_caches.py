"""The hot path's per-process caches: sized from settings (HOST_CACHE_SIZE, USER_CACHE_SIZE,
TOKEN_CACHE_SIZE), and their hits, misses and evictions counted into /metrics."""

from __future__ import annotations

import pytest
from django.conf import settings

from authapi import selectors as user_selectors
from authapi import tokens
from signing import keyring
from tenants import selectors as tenant_selectors
from tests.conftest import run_in_another_process
from tests.observability.conftest import parse, scrape, value

pytestmark = pytest.mark.django_db


def test_each_cache_is_as_large_as_its_setting():
    assert settings.HOST_CACHE_SIZE >= 20_000  # 10,000 clients with two domains each
    assert tenant_selectors.client_get_by_host.cache.max_entries == settings.HOST_CACHE_SIZE
    assert keyring._cache.max_entries == settings.HOST_CACHE_SIZE
    for selector in (
        user_selectors.user_get_active,
        user_selectors.session_get_live,
        user_selectors.api_token_get_by_digest,
    ):
        assert selector.cache.max_entries == settings.USER_CACHE_SIZE
    assert tokens._verified.max_entries == settings.TOKEN_CACHE_SIZE


def test_a_small_host_cache_holds_its_size_and_counts_evictions_in_metrics(tenant_a):
    out = run_in_another_process(
        "from core.hotpath import localcache\n"
        "from tenants.selectors import client_get_by_host\n"
        "from django.test import Client\n"
        "assert localcache.wait_until_ready()\n"
        "cache = client_get_by_host.cache\n"
        "for host in ['a.example', 'b.example', 'c.example', 'acme.localhost', 'acme.localhost']:\n"
        "    client_get_by_host(host=host)\n"
        "print('STATS', cache.max_entries, len(cache), cache.hits, cache.misses, cache.evictions)\n"
        "print(Client(HTTP_HOST='localhost').get('/metrics').content.decode())\n",
        env={"HOST_CACHE_SIZE": "2"},
    )
    stats = next(line for line in out.splitlines() if line.startswith("STATS"))
    assert stats.split()[1:] == ["2", "2", "1", "4", "2"]
    samples = parse(out[out.index("\n", out.index("STATS")) :])
    hosts = {"cache": "hosts"}
    assert value(samples, "tenantauth_cache_max_entries", **hosts) == 2
    assert value(samples, "tenantauth_cache_entries", **hosts) == 2
    assert value(samples, "tenantauth_cache_hits_total", **hosts) == 1
    assert value(samples, "tenantauth_cache_misses_total", **hosts) == 4
    assert value(samples, "tenantauth_cache_evictions_total", **hosts) == 2


def test_warm_requests_move_the_hit_counts(api_a, make_user, tenant_a):
    make_user(tenant_a, "yuki")
    pair = api_a.login("yuki")
    api_a.get("/api/user/", token=pair["access"])  # warms the user and session caches
    before = scrape()
    for _ in range(3):
        api_a.get("/api/user/", token=pair["access"])
    after = scrape()
    for cache in ("hosts", "users", "sessions", "tokens"):
        grew = value(after, "tenantauth_cache_hits_total", cache=cache) - value(
            before, "tenantauth_cache_hits_total", cache=cache
        )
        assert grew >= 3, cache
    assert value(after, "tenantauth_cache_misses_total", cache="users") >= 1
