"""A bounded memo for the answers of a pure, expensive check, keyed by its exact input.

Nothing unverified is ever stored (only inputs that passed the check), nothing needs
invalidating (the answer is a function of the key), and values are read-only mappings, so a
caller cannot change what the next caller gets.

An answer may carry the moment it stops being true (a token's `exp`): from then on the memo
neither returns nor keeps it. Expired entries go when they are asked for, and all of them in a
sweep at most every `sweep_every` seconds, so the memo holds only what is still valid instead of
filling up to `max_entries` with dead answers (bench/soak: that was a worker's RSS growth).

Like core.hotpath.localcache, a memo counts hits, misses and evictions (room made for a new
entry; expired entries dropped are not evictions) in plain ints, read by
core.observability.metrics.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["VerifiedMemo", "registered"]

_registry: dict[str, VerifiedMemo] = {}

_NEVER = float("inf")


class VerifiedMemo:
    def __init__(
        self, name: str, *, max_entries: int, enabled: bool = True, sweep_every: float = 10.0
    ) -> None:
        if name in _registry:
            raise ValueError(f"duplicate memo name {name!r}")
        self.name = name
        self.max_entries = max_entries
        self.enabled = enabled
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self.sweep_every = sweep_every
        self._next_sweep = 0.0
        self._lock = threading.Lock()
        # key -> (epoch seconds from which the answer is no longer true, the answer)
        self._entries: OrderedDict[Hashable, tuple[float, Mapping[str, Any]]] = OrderedDict()
        _registry[name] = self

    def get(self, key: Hashable) -> Mapping[str, Any] | None:
        if not self.enabled:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] <= time.time():
                del self._entries[key]
                entry = None
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    def put(
        self, key: Hashable, value: Mapping[str, Any], *, expires_at: float | None = None
    ) -> None:
        """Remember `value` for `key`, until `expires_at` (epoch seconds) if given."""
        if not self.enabled:
            return
        now = time.time()
        if expires_at is not None and expires_at <= now:
            return
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            self._entries[key] = (
                _NEVER if expires_at is None else expires_at,
                MappingProxyType(dict(value)),
            )
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
                self.evictions += 1

    def _sweep(self, now: float) -> None:
        # One pass over at most max_entries floats, every sweep_every seconds: microseconds per
        # request on average, against an unbounded share of dead answers without it.
        expired = [key for key, (expires_at, _) in self._entries.items() if expires_at <= now]
        for key in expired:
            del self._entries[key]
        self._next_sweep = now + self.sweep_every

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def registered() -> list[VerifiedMemo]:
    """Every memo of this process (for their counts in /metrics)."""
    return list(_registry.values())
