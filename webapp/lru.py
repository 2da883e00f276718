"""A small thread-safe LRU mapping for per-process caches."""
import threading
import time
from collections import OrderedDict

from flask import current_app


class LRU:
    """A bounded mapping that forgets the least recently used entries, and with
    ``ttl`` (seconds) also those older than that."""

    def __init__(self, size: int, ttl: float | None = None) -> None:
        self.size, self.ttl = size, ttl
        # Counts the clears: read it before computing a value, pass it to put().
        self.generation = 0
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            value, expires = entry
            if expires is not None and expires <= time.monotonic():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return value

    def put(self, key, value, generation: int | None = None) -> None:
        """Keep ``value``; with ``generation``, only if nothing cleared the cache since
        that generation was read (the value may predate the change that cleared it)."""
        expires = None if self.ttl is None else time.monotonic() + self.ttl
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            self._data[key] = (value, expires)
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.generation += 1

    def __len__(self) -> int:
        return len(self._data)


def app_cache(name: str, size: int, ttl: float | None = None) -> LRU:
    """The current app's LRU called ``name``, made on first use."""
    cache = current_app.extensions.get(name)
    if cache is None:
        cache = current_app.extensions[name] = LRU(size, ttl)
    return cache
