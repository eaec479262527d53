"""A bounded memo for the answers of a pure, expensive check, keyed by its exact input.

Nothing unverified is ever stored (only inputs that passed the check), nothing needs
invalidating (the answer is a function of the key), and values are read-only mappings, so a
caller cannot change what the next caller gets.

Like core.hotpath.localcache, a memo counts hits, misses and evictions in plain ints, read by
core.observability.metrics.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["VerifiedMemo", "registered"]

_registry: dict[str, VerifiedMemo] = {}


class VerifiedMemo:
    def __init__(self, name: str, *, max_entries: int, enabled: bool = True) -> None:
        if name in _registry:
            raise ValueError(f"duplicate memo name {name!r}")
        self.name = name
        self.max_entries = max_entries
        self.enabled = enabled
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, Mapping[str, Any]] = OrderedDict()
        _registry[name] = self

    def get(self, key: Hashable) -> Mapping[str, Any] | None:
        if not self.enabled:
            return None
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
            else:
                self._entries.move_to_end(key)
                self.hits += 1
            return value

    def put(self, key: Hashable, value: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._entries[key] = MappingProxyType(dict(value))
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
                self.evictions += 1

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def registered() -> list[VerifiedMemo]:
    """Every memo of this process (for their counts in /metrics)."""
    return list(_registry.values())
