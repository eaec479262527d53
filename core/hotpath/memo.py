"""A bounded memo for the answers of a pure, expensive check, keyed by its exact input.

Nothing unverified is ever stored (only inputs that passed the check), nothing needs
invalidating (the answer is a function of the key), and values are read-only mappings, so a
caller cannot change what the next caller gets.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["VerifiedMemo"]


class VerifiedMemo:
    def __init__(self, *, max_entries: int, enabled: bool = True) -> None:
        self.max_entries = max_entries
        self.enabled = enabled
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, Mapping[str, Any]] = OrderedDict()

    def get(self, key: Hashable) -> Mapping[str, Any] | None:
        if not self.enabled:
            return None
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._entries[key] = MappingProxyType(dict(value))
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
