"""Per-process caches that every process drops at once when the data behind them changes.

Each process keeps its own small maps, and one background thread per process listens on a Redis
pub/sub channel: a change anywhere publishes the cache name and key, and every listening process
drops that entry within milliseconds.

Fail-safe rules, so that a lost message can never keep a stale answer for long:
- The cache answers only while this process's listener is subscribed. Before the subscription is
  confirmed, after the connection drops and until it is re-established, every lookup goes to the
  loader (the database), and everything cached is dropped on (re)subscription, since messages may
  have been missed meanwhile.
- A value is stored only if no invalidation of *its key* (or of the whole cache) arrived while it
  was being loaded, so a read that raced a change is never kept, and a change to one key does not
  spoil the loads of others.
- Entries expire after `max_age` seconds whatever happens (a publisher that could not reach
  Redis while the listeners still could is the one case the rules above do not cover).
- `invalidate()` drops the key here at once and publishes once, after the surrounding transaction
  commits (before it, other processes would only re-read the old row); it drops the key here once
  more then, in case a concurrent request of this process re-read the old row meanwhile.

Each cache counts its hits, misses (a lookup that went to the loader, the ones made while not
subscribed included) and evictions (an entry pushed out by `max_entries`) in plain ints, read by
core.observability.metrics for /metrics: no cost on the hot path beyond an addition.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import transaction

__all__ = ["CHANNEL", "LocalCache", "clear_all", "registered", "wait_until_ready"]

log = logging.getLogger(__name__)

CHANNEL = "tenantauth:localcache:invalidate"
_SEP = "\x00"
V = TypeVar("V")

_registry: dict[str, LocalCache[Any]] = {}


class _Load:
    """One load in flight; `valid` turns False when its key is invalidated meanwhile."""

    __slots__ = ("valid",)

    def __init__(self) -> None:
        self.valid = True


class LocalCache(Generic[V]):
    def __init__(
        self, name: str, *, max_entries: int = 10_000, max_age: float = 30.0, enabled: bool = True
    ) -> None:
        if _SEP in name or name in _registry:
            raise ValueError(f"bad or duplicate cache name {name!r}")
        self.name = name
        self.max_entries = max_entries
        self.max_age = max_age
        self.enabled = enabled
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._loading: dict[str, list[_Load]] = {}
        _registry[name] = self

    def get(self, key: Hashable, loader: Callable[[], V]) -> V:
        """The cached value of `key`, or `loader()` (stored when that is safe)."""
        if not self.enabled:
            return loader()
        if not _listener.ready():
            self.misses += 1
            return loader()
        skey = str(key)  # keys travel as text in invalidation messages
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(skey)
            if hit is not None and now - hit[0] < self.max_age:
                self._entries.move_to_end(skey)
                self.hits += 1
                return hit[1]
            self.misses += 1
            load = _Load()
            self._loading.setdefault(skey, []).append(load)
        try:
            value = loader()
        finally:
            with self._lock:
                loads = self._loading.get(skey, [])
                loads.remove(load)
                if not loads:
                    self._loading.pop(skey, None)
        with self._lock:
            if load.valid and _listener.ready():
                self._entries[skey] = (now, value)
                self._entries.move_to_end(skey)
                if len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
                    self.evictions += 1
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def invalidate(self, key: Hashable | None = None) -> None:
        """Drop `key` (or everything) here now, and in every process once the change commits."""
        # Tagged with this process's origin: its own listener skips it (dropped here already).
        message = f"{self.name}{_SEP}{'' if key is None else key}{_SEP}{_origin()}"
        self.drop(key)

        def after_commit() -> None:
            self.drop(key)
            _publish(message)

        transaction.on_commit(after_commit)  # at once outside a transaction

    def drop(self, key: Hashable | None = None) -> None:
        """Drop `key` (or everything) in this process only."""
        with self._lock:
            if key is None:
                self._entries.clear()
                for loads in self._loading.values():
                    for load in loads:
                        load.valid = False
            else:
                skey = str(key)
                self._entries.pop(skey, None)
                for load in self._loading.get(skey, ()):
                    load.valid = False

    def clear(self) -> None:
        self.drop(None)


def _redis():
    import redis

    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1, health_check_interval=5
    )


_publisher_lock = threading.Lock()
_publisher: tuple[int, Any] | None = None


def _publish(message: str) -> None:
    global _publisher
    try:
        with _publisher_lock:
            if _publisher is None or _publisher[0] != os.getpid():
                _publisher = (os.getpid(), _redis())
            client = _publisher[1]
        client.publish(CHANNEL, message)
    except Exception:
        log.exception("event=localcache_publish_failed message=%r", message)


_ORIGIN_NONCE = uuid.uuid4().hex[:8]


def _origin() -> str:
    # The pid changes in a forked child, so a gunicorn worker never mistakes its siblings' (or
    # the master's) messages for its own.
    return f"{_ORIGIN_NONCE}-{os.getpid()}"


def _drop_all() -> None:
    for cache in list(_registry.values()):
        cache.drop(None)


def _apply(raw: bytes | str) -> None:
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    name, _, rest = text.partition(_SEP)
    key, _, origin = rest.partition(_SEP)
    if origin and origin == _origin():
        return
    cache = _registry.get(name)
    if cache is None:
        return
    cache.drop(None if key == "" else key)


# Seconds between attempts to subscribe while Redis is away: until it succeeds every lookup goes
# to the database, so a process should not wait long once Redis is back (an attempt on a dead
# Redis costs a refused connection, or the 1 s connect timeout).
_MAX_BACKOFF = 2.0


class _Listener:
    """One subscriber thread per process (started lazily, restarted after a fork)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._subscribed = threading.Event()

    def ready(self) -> bool:
        if self._pid != os.getpid():
            self._start()
        return self._subscribed.is_set()

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._subscribed = threading.Event()  # a forked child inherits no subscription
            _drop_all()
            thread = threading.Thread(
                target=self._run, args=(self._subscribed,), name="localcache", daemon=True
            )
            thread.start()

    def _run(self, subscribed: threading.Event) -> None:
        backoff = 0.2
        while True:
            pubsub = None
            try:
                pubsub = _redis().pubsub()
                pubsub.subscribe(CHANNEL)
                while True:
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        pubsub.check_health()
                        continue
                    if message["type"] == "subscribe":
                        _drop_all()  # whatever happened while unsubscribed was missed
                        subscribed.set()
                        backoff = 0.2
                    elif message["type"] == "message":
                        _apply(message["data"])
            except Exception as exc:
                if _stopping.is_set():
                    return
                if subscribed.is_set():
                    log.warning("event=localcache_listener_lost error=%r", exc)
                subscribed.clear()
                _drop_all()
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):  # already failing; nothing more to do
                        pubsub.close()
            if _stopping.wait(backoff):
                return
            backoff = min(backoff * 2, _MAX_BACKOFF)


_listener = _Listener()
# Set at interpreter exit, so the thread does not log about Redis going away with the process.
_stopping = threading.Event()
atexit.register(_stopping.set)


def registered() -> list[LocalCache[Any]]:
    """Every cache of this process (for their counts in /metrics)."""
    return list(_registry.values())


def clear_all() -> None:
    """Drop every local cache of this process (tests)."""
    _drop_all()


def wait_until_ready(timeout: float = 5.0) -> bool:
    """Start this process's listener if needed and wait for its subscription (tests, warm-up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _listener.ready():
            return True
        time.sleep(0.01)
    return False
