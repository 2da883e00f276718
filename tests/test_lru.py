"""The small LRU behind the per-process caches."""
from webapp import lru
from webapp.lru import LRU


def test_forgets_the_least_recently_used():
    cache = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    assert len(cache) == 2


def test_entries_expire_after_the_ttl(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(lru.time, "monotonic", lambda: now[0])
    cache = LRU(10, ttl=30)
    cache.put("total", 7)
    now[0] += 29
    assert cache.get("total") == 7
    now[0] += 2
    assert cache.get("total") is None and len(cache) == 0


def test_size_zero_keeps_nothing_and_clear_empties():
    assert LRU(0).get("a") is None
    nothing = LRU(0)
    nothing.put("a", 1)
    assert nothing.get("a") is None
    cache = LRU(5)
    cache.put("a", 1)
    cache.clear()
    assert cache.get("a") is None


def test_a_value_computed_before_a_clear_is_not_kept():
    cache = LRU(5)
    before = cache.generation
    cache.clear()  # a write happened while the value was being computed
    cache.put("total", 7, before)
    assert cache.get("total") is None
    cache.put("total", 8, cache.generation)
    assert cache.get("total") == 8
