"""Host -> client cache that costs no SQL and no network round trip per request once warm.

Each process keeps its own bounded map of host -> Client (or "unknown", so requests with random
Host headers cost no SQL either). Any change to a Client or Domain invalidates the map in every
process at once through core.localcache (Redis pub/sub); while this process is not subscribed
(Redis unreachable, or just starting) every lookup goes to the database, so tenant resolution
never depends on Redis for correctness.
"""

from __future__ import annotations

from core.localcache import LocalCache
from tenants import selectors
from tenants.models import Client

__all__ = ["clear", "invalidate", "lookup"]

_UNKNOWN = "unknown"
# Bounded so that requests with random Host headers cannot grow memory without limit.
_hosts: LocalCache[Client | str] = LocalCache("hosts", max_entries=10_000)


def lookup(host: str) -> Client | None:
    found = _hosts.get(host, lambda: selectors.client_get_by_host(host=host) or _UNKNOWN)
    return None if isinstance(found, str) else found


def invalidate() -> None:
    """Drop every cached host in every process (a client or domain changed)."""
    _hosts.invalidate()


def clear() -> None:
    """Drop this process's cached hosts only."""
    _hosts.clear()
