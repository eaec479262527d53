"""Login protection (SPEC §10), per client, with counters in Redis — checked before any password
is hashed, on every login path (JSON, cookie mode, the API-key password flow: authapi.sessions;
both admins' session logins: authapi.backends).

- An account (the login string as typed, normalised; known or not, so an unknown account answers
  exactly like a known one) from one IP: after LOGIN_MAX_FAILURES failures within
  LOGIN_FAILURE_WINDOW_SECONDS, refused from that IP (even with the right password) until the
  window has passed or the tenant admin unblocks it. Other IPs are not affected.
- An IP: after LOGIN_IP_MAX_FAILURES failures within the window, every login from it is refused.
- Registration: REGISTER_RATE per IP.
- Password checks at once per client, across processes: at most LOGIN_HASH_CONCURRENCY; more are
  answered 429 at once (`hashing_slot`), so one client's flood cannot occupy every web worker.

Each counter is a fixed window from its first failure (INCR, EXPIRE on the first), in Lua so
that counting, expiring and noting a block are one atomic step. Blocks are also noted in a sorted
set per client, for the admin's list. With Redis unreachable, logins go on unprotected (logged).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import logging
import sys
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from audit.services import Event, record
from core.errors import Throttled
from core.observability import metrics

__all__ = [
    "Block",
    "account_name",
    "blocked_list",
    "hashing_slot",
    "login_check",
    "login_failed",
    "login_succeeded",
    "register_check",
    "unblock",
]

log = logging.getLogger(__name__)

_CHECK = """
local a = tonumber(redis.call('GET', KEYS[1]) or '0')
local i = tonumber(redis.call('GET', KEYS[2]) or '0')
if a >= tonumber(ARGV[1]) then return {1, redis.call('TTL', KEYS[1])} end
if i >= tonumber(ARGV[2]) then return {2, redis.call('TTL', KEYS[2])} end
return {0, 0}
"""
# KEYS: account+ip counter, ip counter, blocked set. ARGV: window, account max, ip max, now,
# account member, ip member.
_FAIL = """
local a = redis.call('INCR', KEYS[1])
if a == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local i = redis.call('INCR', KEYS[2])
if i == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
if a == tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[3], tonumber(ARGV[4]) + redis.call('TTL', KEYS[1]), ARGV[5])
end
if i == tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[3], tonumber(ARGV[4]) + redis.call('TTL', KEYS[2]), ARGV[6])
end
redis.call('EXPIRE', KEYS[3], ARGV[1])
return {a, i}
"""
# A counter of requests (registrations) in a fixed window. KEYS: counter. ARGV: window, max.
_RATE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if n > tonumber(ARGV[2]) then return redis.call('TTL', KEYS[1]) end
return 0
"""
# A semaphore of named holders (a sorted set scored by when each took its slot): a holder that
# never releases (a worker killed mid-hash, a lost reply) is dropped after the slot lifetime,
# whatever else arrives meanwhile. KEYS: holders. ARGV: limit, lifetime, now, holder.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[3]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""
_RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
return 0
"""
_SLOT_LIFETIME = 30  # seconds: far longer than a password check
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# After Redis failed, logins skip the protection for this long instead of each waiting for its
# own timeouts (four round trips of up to 0.5 s on a sync worker).
_PAUSE_AFTER_FAILURE = 5.0


class RedisDown(Exception):
    pass


class _Redis:
    """One client per process, made on first use; its scripts registered once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: Any = None
        self.scripts: dict[str, Any] = {}
        self._down_until = 0.0

    def get(self) -> Any:
        if time.monotonic() < self._down_until:
            raise RedisDown("Redis failed a moment ago")
        with self._lock:
            if self._client is None:
                import redis

                client = redis.Redis.from_url(
                    settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5
                )
                self.scripts = {
                    name: client.register_script(source)
                    for name, source in {
                        "check": _CHECK,
                        "fail": _FAIL,
                        "rate": _RATE,
                        "acquire": _ACQUIRE,
                        "release": _RELEASE,
                    }.items()
                }
                self._client = client
            return self._client

    def run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        self.get()
        try:
            return self.scripts[script](keys=keys, args=args)
        except (RedisConnectionError, RedisTimeoutError, OSError):
            self.failed()  # unreachable: skip Redis for a moment (a script error does not)
            raise

    def failed(self) -> None:
        self._down_until = time.monotonic() + _PAUSE_AFTER_FAILURE


_redis = _Redis()


def _unprotected(what: str) -> None:
    # The traceback once, when Redis fails; not again for every login while it is paused.
    paused = isinstance(sys.exc_info()[1], RedisDown)
    log.warning("event=login_protection_unavailable step=%s", what, exc_info=not paused)


def account_name(login: str) -> str:
    """The account a login string counts against, compared as authapi.selectors compares
    names (NFKC, case-insensitively): "ALICE" and its full-width spelling are one account's
    failures. Callers that found the user pass its username, so that its email counts against
    the same account."""
    return unicodedata.normalize("NFKC", login).strip().casefold()


def _login_key(login: str) -> str:
    # Bounded and free of separators whatever was typed; the name itself is kept in the block.
    return hashlib.sha256(account_name(login).encode()).hexdigest()[:32]


def _address(ip: str | None) -> str:
    """An IPv4 address, or an IPv6 address's /64: one host holds a whole /64."""
    if not ip:
        return "unknown"
    try:
        if "/" in ip:  # already a /64 (a block being lifted)
            return str(ipaddress.ip_network(ip, strict=False))
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _keys(schema: str, login: str, ip: str | None) -> tuple[str, str, str]:
    address = _address(ip)
    prefix = f"tenantauth:lp:{schema}"
    return (
        f"{prefix}:acct:{_login_key(login)}:{address}",
        f"{prefix}:ip:{address}",
        f"{prefix}:blocked",
    )


@dataclass(frozen=True)
class Block:
    """A blocked account from one IP (`login` set) or a blocked IP (`login` None)."""

    ip: str
    login: str | None
    until: float  # epoch seconds

    @property
    def member(self) -> str:
        return json.dumps({"ip": self.ip, "login": self.login}, sort_keys=True)

    @property
    def id(self) -> str:
        return hashlib.sha256(self.member.encode()).hexdigest()[:16]


def login_check(*, schema: str, login: str, ip: str | None) -> None:
    """Refuse (Throttled) a login from a blocked account and IP or a blocked IP, before any
    password is looked at. (The `login_blocked` event is written once, when the block starts:
    login_failed.)"""
    account_key, ip_key, _ = _keys(schema, login, ip)
    try:
        blocked, ttl = _redis.run(
            "check",
            [account_key, ip_key],
            [settings.LOGIN_MAX_FAILURES, settings.LOGIN_IP_MAX_FAILURES],
        )
    except Exception:
        _unprotected("check")
        return
    if int(blocked):
        metrics.throttled_counted("login_blocked")
        raise Throttled(
            max(int(ttl), 1), "Too many failed logins; try again later", code="too_many_attempts"
        )


def login_failed(*, schema: str, login: str, ip: str | None) -> None:
    """Count a failure; the one that starts a block writes the `login_blocked` event."""
    account_key, ip_key, blocked_key = _keys(schema, login, ip)
    address = _address(ip)
    try:
        account_failures, ip_failures = _redis.run(
            "fail",
            [account_key, ip_key, blocked_key],
            [
                settings.LOGIN_FAILURE_WINDOW_SECONDS,
                settings.LOGIN_MAX_FAILURES,
                settings.LOGIN_IP_MAX_FAILURES,
                int(time.time()),
                Block(address, account_name(login), 0).member,
                Block(address, None, 0).member,
            ],
        )
    except Exception:
        _unprotected("count")
        return
    for scope, count, limit in (
        ("account", int(account_failures), settings.LOGIN_MAX_FAILURES),
        ("ip", int(ip_failures), settings.LOGIN_IP_MAX_FAILURES),
    ):
        if count == limit:
            record(Event.LOGIN_BLOCKED, username=login, detail={"scope": scope})


def login_succeeded(*, schema: str, login: str, ip: str | None) -> None:
    """A successful login clears its account's failures from that IP (not the IP's)."""
    account_key, _, _ = _keys(schema, login, ip)
    try:
        _redis.get().delete(account_key)
    except Exception:
        _unprotected("reset")


def register_check(*, schema: str, ip: str | None) -> None:
    count, _, period = settings.REGISTER_RATE.partition("/")
    key = f"tenantauth:lp:{schema}:reg:{_address(ip)}"
    try:
        wait = int(_redis.run("rate", [key], [_PERIODS[period], int(count)]))
    except Exception:
        _unprotected("register")
        return
    if wait:
        metrics.throttled_counted("register_rate")
        raise Throttled(max(wait, 1), "Too many registrations from this address; try again later")


@contextlib.contextmanager
def hashing_slot(*, schema: str) -> Iterator[None]:
    """Hold one of the client's LOGIN_HASH_CONCURRENCY password-check slots, or refuse at once
    (429, Retry-After 1) when they are all taken."""
    key = f"tenantauth:lp:{schema}:hashing"
    holder = uuid.uuid4().hex
    limit = settings.LOGIN_HASH_CONCURRENCY
    try:
        acquired = int(_redis.run("acquire", [key], [limit, _SLOT_LIFETIME, time.time(), holder]))
    except Exception:
        _unprotected("slot")
        yield
        return
    if not acquired:
        metrics.throttled_counted("hashing_busy")
        raise Throttled(1, "Too many logins at once for this client; try again in a second")
    try:
        yield
    finally:
        try:
            _redis.run("release", [key], [holder])
        except Exception:
            _unprotected("slot release")  # the slot lapses by itself after _SLOT_LIFETIME


def blocked_list(*, schema: str) -> list[Block]:
    """The client's blocks still in force, soonest to lift first."""
    now = time.time()
    try:
        client = _redis.get()
        entries = client.zrangebyscore(
            f"tenantauth:lp:{schema}:blocked", now, "+inf", withscores=True
        )
    except Exception:
        _unprotected("list")
        return []
    blocks = []
    for member, until in entries:
        data = json.loads(member)
        blocks.append(Block(ip=data["ip"], login=data["login"], until=float(until)))
    return blocks


def unblock(*, schema: str, block_id: str) -> Block | None:
    """Lift one block (and its failures); a `login_unblocked` event. None if it is gone."""
    block = next((b for b in blocked_list(schema=schema) if b.id == block_id), None)
    if block is None:
        return None
    account_key, ip_key, blocked_key = _keys(schema, block.login or "", block.ip)
    client = _redis.get()
    client.delete(account_key if block.login is not None else ip_key)
    client.zrem(blocked_key, block.member)
    record(
        Event.LOGIN_UNBLOCKED,
        username=block.login or "",
        detail={"scope": "account" if block.login is not None else "ip", "blocked_ip": block.ip},
    )
    return block
