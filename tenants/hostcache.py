"""Host -> client cache that costs no SQL per request once warm.

Each process keeps its own bounded map of host -> Client (or "unknown"). A generation counter in
Redis is bumped whenever a Client or Domain changes (tenants.signals); every lookup reads the
counter (one Redis GET, no SQL) and drops the local map when it moved, so a new domain, a
deactivated client or a deleted one is seen at once by every process. If Redis is unreachable
the cache is bypassed and the database answers, so tenant resolution never depends on Redis.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from django.core.cache import cache

from tenants import selectors
from tenants.models import Client

__all__ = ["bump_generation", "clear", "lookup"]

log = logging.getLogger(__name__)

GENERATION_KEY = "tenants:hosts:generation"
# Bounded so that requests with random Host headers cannot grow memory without limit.
MAX_ENTRIES = 10_000
_UNKNOWN = object()

_lock = threading.Lock()
_entries: OrderedDict[str, object] = OrderedDict()
_generation: object = None


def _current_generation() -> object:
    try:
        value = cache.get(GENERATION_KEY)
        if value is None:
            cache.add(GENERATION_KEY, 1, timeout=None)
            value = cache.get(GENERATION_KEY)
        return value
    except Exception:  # any Redis failure: fall back to the database for this request
        log.warning("event=hostcache_redis_unavailable")
        return None


def lookup(host: str) -> Client | None:
    global _generation
    generation = _current_generation()
    if generation is None:
        return selectors.client_get_by_host(host=host)
    with _lock:
        if generation != _generation:
            _entries.clear()
            _generation = generation
        hit = _entries.get(host)
        if hit is not None:
            _entries.move_to_end(host)
            return None if hit is _UNKNOWN else hit  # type: ignore[return-value]
    client = selectors.client_get_by_host(host=host)
    with _lock:
        if generation == _generation:
            _entries[host] = _UNKNOWN if client is None else client
            if len(_entries) > MAX_ENTRIES:
                _entries.popitem(last=False)
    return client


def bump_generation() -> None:
    try:
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:  # key missing
            cache.add(GENERATION_KEY, 1, timeout=None)
            cache.incr(GENERATION_KEY)
    except Exception:
        log.exception("event=hostcache_bump_failed")
    clear()


def clear() -> None:
    global _generation
    with _lock:
        _entries.clear()
        _generation = None
