"""core.hotpath.localcache: per-process caches invalidated through Redis pub/sub, failing safe."""

import itertools
import time

import pytest
import redis
from django.conf import settings

from core.hotpath import localcache

_names = itertools.count()


def _cache(**kwargs):
    return localcache.LocalCache(f"test-{next(_names)}", **kwargs)


def _counting_loader(value="v"):
    calls = []

    def load():
        calls.append(1)
        return value

    return load, calls


def _wait_for(predicate, timeout=5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_second_lookup_is_served_from_memory():
    cache = _cache()
    load, calls = _counting_loader()
    assert cache.get("k", load) == "v"
    assert cache.get("k", load) == "v"
    assert len(calls) == 1


def test_a_message_from_another_process_drops_the_key():
    cache = _cache()
    load, calls = _counting_loader()
    cache.get("k", load)
    cache.get("other", load)
    redis.Redis.from_url(settings.REDIS_URL).publish(localcache.CHANNEL, f"{cache.name}\x00k")
    assert _wait_for(lambda: "k" not in cache._entries)
    assert "other" in cache._entries  # only that key
    cache.get("k", load)
    assert len(calls) == 3


def test_value_loaded_while_an_invalidation_arrives_is_not_kept():
    cache = _cache()

    def racing_load():
        cache.drop("k")  # the change lands while the old value is being read
        return "old"

    assert cache.get("k", racing_load) == "old"
    load, calls = _counting_loader("new")
    assert cache.get("k", load) == "new"
    assert calls == [1]


def test_entries_expire_after_max_age():
    cache = _cache(max_age=0.05)
    load, calls = _counting_loader()
    cache.get("k", load)
    time.sleep(0.06)
    cache.get("k", load)
    assert len(calls) == 2


def test_size_is_bounded():
    cache = _cache(max_entries=3)
    for key in range(10):
        cache.get(key, lambda: "v")
    assert len(cache._entries) == 3


@pytest.mark.django_db
def test_without_a_subscription_every_lookup_goes_to_the_loader(settings, monkeypatch, tmp_path):
    """Redis unreachable: nothing is cached (so nothing can go stale), answers still come."""
    settings.REDIS_URL = f"unix://{tmp_path}/no-such-redis.sock"
    monkeypatch.setattr(localcache, "_listener", localcache._Listener())
    cache = _cache()
    load, calls = _counting_loader()
    assert not localcache.wait_until_ready(timeout=0.5)
    assert [cache.get("k", load) for _ in range(3)] == ["v", "v", "v"]
    assert len(calls) == 3
    cache.invalidate("k")  # publishing fails quietly (logged); must not raise


@pytest.mark.django_db
def test_invalidate_reaches_this_process_listener_too():
    cache = _cache()
    load, calls = _counting_loader()
    cache.get("k", load)
    cache.invalidate("k")
    cache.get("k", load)
    assert len(calls) == 2


@pytest.mark.parametrize("bad", ["", "\x00", "x" * 10, "no-such-cache\x00k", b"\xff\xfe"])
def test_unknown_messages_are_ignored(bad):
    cache = _cache()
    load, calls = _counting_loader()
    cache.get("k", load)
    localcache._apply(bad)  # no exception...
    cache.get("k", load)
    assert len(calls) == 1  # ...and no effect on what is cached


def test_an_invalidation_of_another_key_does_not_spoil_a_load():
    cache = _cache()

    def load_while_another_key_changes():
        cache.drop("other")  # e.g. a login elsewhere saves another user meanwhile
        return "v"

    cache.get("k", load_while_another_key_changes)
    load, calls = _counting_loader()
    assert cache.get("k", load) == "v"
    assert calls == []  # kept: only a change to "k" itself may spoil a load of "k"


@pytest.mark.django_db(transaction=True)
def test_invalidate_publishes_once_and_only_after_commit():
    from django.db import transaction

    cache = _cache()
    subscriber = redis.Redis.from_url(settings.REDIS_URL).pubsub()
    subscriber.subscribe(localcache.CHANNEL)
    assert subscriber.get_message(timeout=2)["type"] == "subscribe"

    def messages() -> list[str]:
        seen = []
        while (message := subscriber.get_message(timeout=0.3)) is not None:
            seen.append(message["data"].decode())
        return [m for m in seen if m.startswith(f"{cache.name}\x00")]

    with transaction.atomic():
        cache.invalidate("k")
        assert messages() == []  # other processes would only re-read the old row now
    published = messages()
    subscriber.close()
    assert len(published) == 1 and published[0].startswith(f"{cache.name}\x00k\x00")
