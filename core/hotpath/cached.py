"""`@cached`: a per-process cache declared on the selector it speeds up.

The selector keeps its natural signature and return type (a model instance or None); the cache
stores an immutable snapshot of the answer and hands every caller a fresh object built from it,
so no two requests ever share an instance that a library might write to. Invalidation is per key
and goes through core.hotpath.localcache (every process, after commit).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Any, Generic, ParamSpec, TypeVar

from django.contrib.postgres.fields import ArrayField
from django.db import models

from core.hotpath.localcache import LocalCache

__all__ = ["CachedSelector", "ModelSnapshot", "cached"]

P = ParamSpec("P")
M = TypeVar("M", bound=models.Model)
T = TypeVar("T")

_MISSING = ("missing",)  # the snapshot of None: "looked up, not there" is cached too


class ModelSnapshot(Generic[M]):
    """A model instance as a tuple of its column values, and back (exactly as the ORM builds one
    from a row). Values of a row are immutable (ints, strings, datetimes), so is the tuple; an
    array column's list is kept as a tuple and handed out as a new list each time."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        self._attnames: list[str] | None = None
        self._arrays: frozenset[int] = frozenset()

    @property
    def attnames(self) -> list[str]:
        if self._attnames is None:
            fields = self.model._meta.concrete_fields
            self._arrays = frozenset(i for i, f in enumerate(fields) if isinstance(f, ArrayField))
            self._attnames = [f.attname for f in fields]
        return self._attnames

    def freeze(self, instance: M | None) -> tuple[Any, ...]:
        if instance is None:
            return _MISSING
        values = tuple(getattr(instance, name) for name in self.attnames)
        if self._arrays:
            values = tuple(
                tuple(v) if i in self._arrays and v is not None else v for i, v in enumerate(values)
            )
        return values

    def thaw(self, values: tuple[Any, ...]) -> M | None:
        if values is _MISSING:
            return None
        if self._arrays:
            values = tuple(
                list(v) if i in self._arrays and v is not None else v for i, v in enumerate(values)
            )
        return self.model.from_db("default", self.attnames, values)


class CachedSelector(Generic[P, T]):
    """The decorated selector: call it as before; `.cache` is its LocalCache, `.key(...)` the
    cache key its arguments map to, `.uncached(...)` the selector itself."""

    def __init__(
        self,
        uncached: Callable[P, T],
        cache: LocalCache[tuple[Any, ...]],
        key: Callable[P, Hashable],
        snapshot: ModelSnapshot[Any],
    ) -> None:
        self.uncached = uncached
        self.cache = cache
        self.key = key
        self.snapshot = snapshot
        functools.update_wrapper(self, uncached)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        frozen = self.cache.get(
            self.key(*args, **kwargs),
            lambda: self.snapshot.freeze(self.uncached(*args, **kwargs)),
        )
        return self.snapshot.thaw(frozen)  # type: ignore[return-value]

    def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Drop the answer for these arguments, here now and in every process after commit."""
        self.cache.invalidate(self.key(*args, **kwargs))


def cached(
    name: str,
    *,
    model: type[models.Model],
    key: Callable[P, Hashable],
    max_entries: int,
    max_age: float = 30.0,
) -> Callable[[Callable[P, T]], CachedSelector[P, T]]:
    """Cache the selector's answer (an instance of `model`, or None) per `key(**arguments)`."""
    from core import hotpath

    def decorate(selector: Callable[P, T]) -> CachedSelector[P, T]:
        cache: LocalCache[tuple[Any, ...]] = LocalCache(
            name, max_entries=max_entries, max_age=max_age, enabled=hotpath.enabled(name)
        )
        return CachedSelector(selector, cache, key, ModelSnapshot(model))

    return decorate
