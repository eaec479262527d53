"""core.hotpath.memo: a bounded memo of verified answers that forgets answers once they expire."""

import itertools

import pytest

from core.hotpath import memo

_names = itertools.count()


class _Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(memo, "time", clock)
    return clock


def _memo(**kwargs) -> memo.VerifiedMemo:
    return memo.VerifiedMemo(f"test-{next(_names)}", **kwargs)


def test_an_answer_is_returned_until_it_expires_then_dropped(clock):
    m = _memo(max_entries=10)
    m.put("k", {"v": 1}, expires_at=clock.now + 60)
    assert m.get("k") == {"v": 1}
    clock.now += 59.9
    assert m.get("k") == {"v": 1}
    clock.now += 0.1
    assert m.get("k") is None
    assert len(m) == 0
    assert (m.hits, m.misses, m.evictions) == (2, 1, 0)


def test_an_answer_already_expired_is_not_kept(clock):
    m = _memo(max_entries=10)
    m.put("k", {"v": 1}, expires_at=clock.now)
    assert len(m) == 0
    assert m.get("k") is None


def test_a_sweep_drops_every_expired_answer_nobody_asks_for_again(clock):
    # Tokens are sent until they expire and then never again: without the sweep, the memo would
    # fill up to max_entries with dead answers (bench/soak's RSS growth).
    m = _memo(max_entries=1_000, sweep_every=10)
    for i in range(100):
        m.put(f"old-{i}", {"i": i}, expires_at=clock.now + 60)
    m.put("forever", {"i": -1})
    assert len(m) == 101
    clock.now += 61
    m.put("new", {"i": 0}, expires_at=clock.now + 60)
    assert len(m) == 2
    assert m.get("forever") == {"i": -1}
    assert m.get("new") == {"i": 0}
    assert m.evictions == 0


def test_sweeps_are_spaced(clock):
    m = _memo(max_entries=1_000, sweep_every=10)
    m.put("a", {}, expires_at=clock.now + 1)  # the first put sweeps, the next one not before 10 s
    clock.now += 5
    m.put("b", {}, expires_at=clock.now + 60)
    assert len(m) == 2  # "a" has expired but is swept only at the next sweep
    clock.now += 5
    m.put("c", {}, expires_at=clock.now + 60)
    assert len(m) == 2


def test_the_least_recently_used_answer_makes_room(clock):
    m = _memo(max_entries=2)
    m.put("a", {"v": "a"}, expires_at=clock.now + 60)
    m.put("b", {"v": "b"}, expires_at=clock.now + 60)
    assert m.get("a") is not None
    m.put("c", {"v": "c"}, expires_at=clock.now + 60)
    assert m.get("b") is None
    assert m.get("a") == {"v": "a"} and m.get("c") == {"v": "c"}
    assert m.evictions == 1


def test_answers_are_read_only(clock):
    m = _memo(max_entries=2)
    value = {"v": 1}
    m.put("k", value, expires_at=clock.now + 60)
    value["v"] = 2
    got = m.get("k")
    assert got == {"v": 1}
    with pytest.raises(TypeError):
        got["v"] = 3  # type: ignore[index]


def test_a_disabled_memo_remembers_nothing(clock):
    m = _memo(max_entries=2, enabled=False)
    m.put("k", {"v": 1}, expires_at=clock.now + 60)
    assert m.get("k") is None and len(m) == 0
