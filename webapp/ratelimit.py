"""Fixed-window counters for flood control, in Redis when configured, else in memory."""
import threading
import time


class RateLimiter:
    """Counts hits per key in a time window.

    With Redis the counts are shared by every web process; without it they live
    in this process only, which is right for the single-process embedded set-up.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._memory: dict[str, tuple[int, float]] = {}
        self._redis = None
        self._prefix = "crema:"

    def init_app(self, app) -> None:
        app.extensions["limiter"] = self
        self._redis = app.extensions.get("redis")
        self._prefix = app.config["REDIS_PREFIX"] + "rl:"
        self._memory.clear()

    def count(self, key: str) -> int:
        """Hits recorded for ``key`` in its current window."""
        if self._redis is not None:
            return int(self._redis.get(self._prefix + key) or 0)
        with self._lock:
            hits, expires = self._memory.get(key, (0, 0.0))
            return hits if expires > time.monotonic() else 0

    def hit(self, key: str, window: int) -> int:
        """Record one hit and return the count in the window."""
        if self._redis is not None:
            pipe = self._redis.pipeline()
            pipe.incr(self._prefix + key)
            pipe.expire(self._prefix + key, window, nx=True)
            return int(pipe.execute()[0])
        with self._lock:
            now = time.monotonic()
            hits, expires = self._memory.get(key, (0, 0.0))
            if expires <= now:
                hits, expires = 0, now + window
            self._memory[key] = (hits + 1, expires)
            return hits + 1

    def limited(self, key: str, limit: int) -> bool:
        return self.count(key) >= limit

    def reset(self, key: str) -> None:
        if self._redis is not None:
            self._redis.delete(self._prefix + key)
            return
        with self._lock:
            self._memory.pop(key, None)
