"""The hot path: everything that makes an authenticated request cost no SQL and no network round
trip once warm, in one place. Each mechanism can be switched off for a measurement
(`HOTPATH_OFF=hosts,users,…`, read once at start-up); bench/README.md ("Hot path, one mechanism
at a time") has what each buys.

| mechanism | where | what it saves | how it is invalidated | known holes |
|---|---|---|---|---|
| `hosts`: host -> client | `@cached` on `tenants.selectors.client_get_by_host` | the Domain+Client query of every request | per host, after commit, in every process (Redis pub/sub), when a Client or Domain is saved or deleted (tenants.signals) | `QuerySet.update()` and raw SQL send no signal: bounded by `max_age` (30 s) |
| `users`: the active user behind a token | `@cached` on `authapi.selectors.user_get_active` | the user query of every Bearer request and verify | per (schema, user), after commit, in every process, when the user is saved or deleted (authapi.signals) | as for hosts |
| `sessions`: is this login still live | `@cached` on `authapi.selectors.session_get_live` | the session query of every Bearer request and verify (SPEC §7: access tokens die with their session) | per (schema, session), after commit, in every process, when a session ends (authapi.sessions.sessions_end) or is saved or deleted (authapi.signals) | expiry is checked on every use, so a cached session never outlives its lifetime; an invalidation lost (the ending process could not reach Redis) is bounded by a 10 s `max_age` |
| `api_tokens`: static API keys | `@cached` on `authapi.selectors.api_token_get_by_digest` | the key query of every `Authorization: Token` request | per (schema, digest), after commit, in every process, when a key is deleted (authapi.api_tokens) or saved or deleted (authapi.signals) | expiry is checked on every use; `last_used_at` is written at most once a minute per key, not through the cache |
| `signing_keys`: a client's key pairs | `signing.keyring.keyring_for` | the key queries, the decryption of the private key and the parsing of the public ones, on every token signed or verified | per client, after commit, in every process, when a key or a domain of the client is saved or deleted (signing.keyring), or retired (signing.services) | as for hosts |
| `tokens`: verified access tokens | `authapi.tokens.decode` over `memo.VerifiedMemo` | the signature check (ES256/RS256/HS256) and claim parsing of a token already seen | none needed: the answer is a function of the token string; expiry, and that the key which verified it is not retired, are still checked on every use | none known (refresh tokens, single use, are never kept) |
| `search_path`: the session's path | `dbbackend` | a `SET search_path` per request | forgotten on close, rollback and savepoint rollback, and when the SET fails | a path changed behind Django's back (raw `SET`) would not be noticed: `HOTPATH_VERIFY_SEARCH_PATH` (on in tests) checks every skipped SET |
| `api_stack`: short middleware stack | `handlers.ApiFastPath` | the session, CSRF, auth and message middleware on /api/ and /auth/ | — | — |

Measured and removed: skipping CONN_HEALTH_CHECKS' `SELECT 1` on a connection used within the
last second (about 2% on refresh, nothing on hello or user).

Every cache answers only while its process is subscribed to the invalidation channel; without
Redis each lookup goes to the database (core.hotpath.localcache).

Sizes: `HOST_CACHE_SIZE` (hosts, signing_keys), `USER_CACHE_SIZE` (users, sessions, api_tokens),
`TOKEN_CACHE_SIZE` (tokens). Each cache counts its hits, misses and evictions in plain ints;
core.observability.metrics copies them into `tenantauth_cache_*` for /metrics at most once a
second, so a cache lookup pays one addition.
"""

from __future__ import annotations

from django.conf import settings

__all__ = ["MECHANISMS", "enabled"]

MECHANISMS = (
    "hosts",
    "users",
    "sessions",
    "api_tokens",
    "signing_keys",
    "tokens",
    "search_path",
    "api_stack",
)


def enabled(name: str) -> bool:
    """False when `name` is listed in HOTPATH_OFF (benchmarks measure each piece alone)."""
    if name not in MECHANISMS:
        raise ValueError(f"unknown hot-path mechanism {name!r}")
    return name not in settings.HOTPATH_OFF
