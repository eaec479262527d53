"""Every metric of tenantauth, and the functions the code that counts calls.

Labels are few and bounded: a route is its URL pattern (never the path a client typed), a status
a number, an outcome or reason one of a few words. No label names a client unless
METRICS_CLIENT_LABEL is on (then every metric gets `client`, the schema name): with thousands of
clients, a label per client multiplies every series by thousands.

The hot path's caches count hits, misses and evictions in plain ints (core.hotpath); `caches_
flush` copies what changed into counters here, at most once a second per process from the
request middleware, and before every /metrics answer. Nothing on the hot path itself touches a
metric file.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connection

from core.observability import processes

processes.use_identifiers()  # before the first metric is made

from prometheus_client import Counter, Gauge, Histogram  # noqa: E402

__all__ = [
    "CLIENT_LABEL",
    "caches_flush",
    "caches_flush_due",
    "login_counted",
    "purge_counted",
    "refresh_counted",
    "request_observed",
    "reuse_counted",
    "throttled_counted",
]

CLIENT_LABEL: bool = settings.METRICS_CLIENT_LABEL
_CLIENT: tuple[str, ...] = ("client",) if CLIENT_LABEL else ()

# Latency of requests whose work is a few milliseconds warm and a password hash (tens of ms) at
# most, with room for slow database moments.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "tenantauth_http_requests",
    "HTTP requests answered, by route pattern, method and status.",
    ["route", "method", "status", *_CLIENT],
)
HTTP_DURATION = Histogram(
    "tenantauth_http_request_duration_seconds",
    "Time from the outermost middleware in to the response out, by route, method and status.",
    ["route", "method", "status", *_CLIENT],
    buckets=_LATENCY_BUCKETS,
)
LOGINS = Counter(
    "tenantauth_logins",
    "Password logins (JSON, cookie mode, API-key password flow, both admins), by outcome: "
    "success, failure, throttled.",
    ["outcome", *_CLIENT],
)
REFRESHES = Counter(
    "tenantauth_refreshes",
    "Refresh token rotations, by outcome: rotated, grace (a retry within "
    "REFRESH_REUSE_GRACE_SECONDS), refused (the token was rotated already: reuse or a lost race).",
    ["outcome", *_CLIENT],
)
REUSE = Counter(
    "tenantauth_refresh_reuse_detected",
    "Rotated refresh tokens presented again (their session ended).",
    [*_CLIENT],
)
THROTTLED = Counter(
    "tenantauth_throttled",
    "429s of login protection, by reason: login_blocked (account or IP over its failures), "
    "register_rate, hashing_busy (the client's password-check slots all taken).",
    ["reason", *_CLIENT],
)
PURGE_RUNS = Counter("tenantauth_purge_runs", "Purges of one schema that completed.", [*_CLIENT])
PURGE_ROWS = Counter(
    "tenantauth_purge_rows_deleted",
    "Rows the purge deleted, by kind: outstanding, blacklisted, sessions, api_tokens, "
    "audit_events, signing_keys.",
    ["kind", *_CLIENT],
)
PURGE_LAST = Gauge(
    "tenantauth_purge_last_success_timestamp_seconds",
    "When a purge of a schema last completed (Unix time).",
    multiprocess_mode="max",
)
CACHE_HITS = Counter("tenantauth_cache_hits", "Lookups a per-process cache answered.", ["cache"])
CACHE_MISSES = Counter(
    "tenantauth_cache_misses", "Lookups a per-process cache sent to the database.", ["cache"]
)
CACHE_EVICTIONS = Counter(
    "tenantauth_cache_evictions",
    "Entries pushed out of a full per-process cache (raise its size when this grows).",
    ["cache"],
)
CACHE_ENTRIES = Gauge(
    "tenantauth_cache_entries",
    "Entries held, the fullest process's.",
    ["cache"],
    multiprocess_mode="livemax",
)
CACHE_CAPACITY = Gauge(
    "tenantauth_cache_max_entries",
    "Entries a process's cache holds at most (HOST_CACHE_SIZE, USER_CACHE_SIZE, ...).",
    ["cache"],
    multiprocess_mode="max",
)


def _client() -> tuple[str, ...]:
    return (str(connection.schema_name),) if CLIENT_LABEL else ()  # type: ignore[attr-defined]


# (route, method, status[, client]) -> the two children: `.labels()` costs as much as the
# update itself, and a process meets few distinct combinations (bounded by the URL patterns).
_request_series: dict[tuple[str, ...], tuple[Any, Any]] = {}


def request_observed(
    *, route: str, method: str, status: int, seconds: float, client: str | None
) -> None:
    key = (route, method, str(status), *((client or "",) if CLIENT_LABEL else ()))
    series = _request_series.get(key)
    if series is None:
        series = _request_series[key] = (HTTP_REQUESTS.labels(*key), HTTP_DURATION.labels(*key))
    series[0].inc()
    series[1].observe(seconds)


def login_counted(outcome: str) -> None:
    LOGINS.labels(outcome, *_client()).inc()


def refresh_counted(outcome: str) -> None:
    REFRESHES.labels(outcome, *_client()).inc()


def reuse_counted() -> None:
    if CLIENT_LABEL:
        REUSE.labels(*_client()).inc()
    else:
        REUSE.inc()


def throttled_counted(reason: str) -> None:
    THROTTLED.labels(reason, *_client()).inc()


def purge_counted(*, schema: str, rows: dict[str, int]) -> None:
    client = (schema,) if CLIENT_LABEL else ()
    if CLIENT_LABEL:
        PURGE_RUNS.labels(*client).inc()
    else:
        PURGE_RUNS.inc()
    for kind, count in rows.items():
        if count:
            PURGE_ROWS.labels(kind, *client).inc(count)
    PURGE_LAST.set(time.time())


# --- the hot path's caches -------------------------------------------------------------------

_FLUSH_EVERY = 1.0  # seconds
_next_flush = 0.0
_flushed: dict[str, tuple[int, int, int]] = {}


def caches_flush_due() -> bool:
    return time.monotonic() >= _next_flush


def _caches() -> list[Any]:
    from core.hotpath import localcache, memo

    return [*localcache.registered(), *memo.registered()]


def caches_flush() -> None:
    """Copy each cache's counts since the last flush into the counters, and its fill."""
    global _next_flush
    _next_flush = time.monotonic() + _FLUSH_EVERY
    for cache in _caches():
        counts = (cache.hits, cache.misses, cache.evictions)
        before = _flushed.get(cache.name)
        if before is None:
            CACHE_CAPACITY.labels(cache.name).set(cache.max_entries)
            before = (0, 0, 0)
        for counter, now, then in zip(
            (CACHE_HITS, CACHE_MISSES, CACHE_EVICTIONS), counts, before, strict=True
        ):
            if now > then:
                counter.labels(cache.name).inc(now - then)
        _flushed[cache.name] = counts
        CACHE_ENTRIES.labels(cache.name).set(len(cache))
