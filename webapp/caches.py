"""Per-process caches (cachetools) and the catalog version that keys the catalog's.

A catalog total or results fragment is only right for the catalog it was computed
from. Every committed write through the services bumps the catalog's version (the
``catalog_changed`` subscriber, webapp/__init__.py), and those caches are keyed by
it, so a write through any process retires every process's entries at once:

- with ``REDIS_URL`` the version is one Redis integer (``INCR``) that all web
  processes read (one ``GET`` per catalog request);
- without Redis it lives in the process, which is right for the embedded set-up
  (one process) and wrong for several: scaling out needs Redis.

The race is harmless: a reader reads version N, counts, a write commits and bumps
to N+1, the reader stores its (old) total under N. Readers now ask for N+1, so
nobody reads it; the LRU forgets it. The reader never stores an old total under
N+1, because it reads the version before it counts and the bump follows the
commit. Writes that bypass the services (SQL by hand, a crash between commit and
bump, a Redis flush that restarts the version) show within the caches' TTL.
"""
import itertools
import logging
import threading

from cachetools import LRUCache, TTLCache
from flask import current_app, g, has_app_context
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
VERSION_KEY = "catalog-version"


class LockedCache:
    """A cachetools LRU (with ``ttl``, an LRU whose entries also expire) that
    several threads or greenlets may share."""

    def __init__(self, size: int, ttl: float | None = None) -> None:
        self._cache = TTLCache(size, ttl) if ttl else LRUCache(size)
        self._lock = threading.Lock()

    def get(self, key):
        """The value kept under ``key``, or None."""
        with self._lock:
            return self._cache.get(key)

    def put(self, key, value) -> None:
        with self._lock:
            self._cache[key] = value

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)


def app_cache(name: str, size: int, ttl: float | None = None) -> LockedCache | None:
    """The current app's cache called ``name``, made on first use; None when
    ``size`` is 0 (cachetools refuses every item of a zero-sized cache)."""
    if size <= 0:
        return None
    cache = current_app.extensions.get(name)
    if cache is None:
        cache = current_app.extensions[name] = LockedCache(size, ttl)
    return cache


def catalog_version() -> int | None:
    """The catalog's version, read once per request; None when Redis does not
    answer (then nothing is cached or reused: every total is counted)."""
    if "catalog_version" not in g:
        g.catalog_version = _read_version(current_app)
    return g.catalog_version


def _read_version(app) -> int | None:
    redis = app.extensions.get("redis")
    if redis is None:
        return app.extensions.get("catalog_version", 0)
    try:
        return int(redis.get(app.config["REDIS_PREFIX"] + VERSION_KEY) or 0)
    except RedisError:
        log.warning("catalog version unreadable: totals are counted without the cache",
                    exc_info=True)
        return None


def bump_catalog_version(app) -> None:
    """A new catalog version for every process (Redis) or this one (embedded).

    Never raises (it runs after the commit): when Redis fails, the other
    processes see the change within the caches' TTL.
    """
    if has_app_context():  # the writing request reads the new version from now on
        g.pop("catalog_version", None)
    redis = app.extensions.get("redis")
    if redis is None:
        # next() on a shared counter is atomic under threads and greenlets, "+= 1" is not.
        counter = app.extensions.setdefault("catalog_version_counter", itertools.count(1))
        app.extensions["catalog_version"] = next(counter)
        return
    try:
        redis.incr(app.config["REDIS_PREFIX"] + VERSION_KEY)
    except RedisError:
        log.exception("catalog version not bumped: other processes lag until the TTL")
