"""Flood control: named limits over the ``limits`` library, in Redis when configured.

One limiter (``webapp.extensions.limiter``) serves log-in, sign-up, the password
check and, later, chat, the bot and the API. Each limit has a name and a rate in the
``limits`` notation ("5 per 15 minutes"), read from ``app.config["RATE_LIMITS"]``::

    verdict = limiter.consume("login-ip", ip)   # counts this attempt, then decides
    if not verdict.allowed:
        ...  # answer 429 with Retry-After: verdict.retry_after

Counting and deciding are one atomic step (a Lua script in Redis, a lock in memory),
so parallel requests cannot all slip under a limit. Windows move: a slot frees
``rate`` after the attempt that took it.
"""
import math
import time
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from webapp.config import ConfigError


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may go ahead and, if not, in how many seconds one may."""

    allowed: bool
    retry_after: int = 0

    @property
    def retry_minutes(self) -> int:
        """``retry_after`` in whole minutes, rounded up (at least 1), for messages."""
        return max(1, math.ceil(self.retry_after / 60))


class Limiter:
    """The app's named limits; state lives per app in ``app.extensions["limiter"]``."""

    def init_app(self, app: Flask) -> None:
        """Check every configured rate and create the app's storage.

        :raise ConfigError: when a rate in ``RATE_LIMITS`` is not in the ``limits`` notation.
        """
        for name, rate in app.config["RATE_LIMITS"].items():
            try:
                _item(rate)
            except ValueError:
                raise ConfigError(
                    f"Rate limit {name!r} is {rate!r}; write it like '5 per 15 minutes'."
                ) from None
        app.extensions["limiter"] = MovingWindowRateLimiter(_storage(app))

    def consume(self, name: str, *identifiers: object, cost: int = 1) -> Verdict:
        """Count one attempt (``cost`` of them) against limit ``name`` for ``identifiers``.

        A refused attempt is not counted, so waiting out ``retry_after`` always helps.

        :raise KeyError: when ``name`` is not in ``RATE_LIMITS``.
        """
        strategy, item, keys = _resolve(name, identifiers)
        if strategy.hit(item, *keys, cost=cost):
            return Verdict(True)
        reset = strategy.get_window_stats(item, *keys).reset_time
        return Verdict(False, max(1, math.ceil(reset - time.time())))

    def wait(self, name: str, *identifiers: object, most: float = 60.0) -> float:
        """Block until limit ``name`` lets one more attempt through for ``identifiers``,
        count it, and return the seconds waited. For senders that must go at a rate
        (the Telegram outbox) rather than refuse.

        :raise TimeoutError: when no slot freed within ``most`` seconds.
        :raise KeyError: when ``name`` is not in ``RATE_LIMITS``.
        """
        strategy, item, keys = _resolve(name, identifiers)
        started = time.monotonic()
        while not strategy.hit(item, *keys):
            waited = time.monotonic() - started
            if waited >= most:
                raise TimeoutError(f"rate limit {name!r} still full after {waited:.0f} s")
            reset = strategy.get_window_stats(item, *keys).reset_time
            time.sleep(min(max(reset - time.time(), 0.005), 1.0))
        return time.monotonic() - started

    def clear(self, name: str, *identifiers: object) -> None:
        """Forget every attempt counted against ``name`` for ``identifiers``.

        :raise KeyError: when ``name`` is not in ``RATE_LIMITS``.
        """
        strategy, item, keys = _resolve(name, identifiers)
        strategy.clear(item, *keys)


@lru_cache(maxsize=64)
def _item(rate: str) -> RateLimitItem:
    """:raise ValueError: when ``rate`` is not in the ``limits`` notation."""
    return parse(rate)


def _resolve(name: str, identifiers: tuple) -> tuple[MovingWindowRateLimiter, RateLimitItem, list[str]]:
    # Rates are read on every call, so a changed setting applies at once. The name
    # leads the key; identifiers are quoted because `limits` joins them with "/" and a
    # login typed as "a/b" must not share a key with another one.
    rate = current_app.config["RATE_LIMITS"][name]
    keys = [name, *(quote(str(i), safe="") for i in identifiers)]
    return current_app.extensions["limiter"], _item(rate), keys


def _storage(app: Flask) -> Storage:
    """Redis (shared by every process, keys under REDIS_PREFIX) when configured, else memory."""
    redis = app.extensions.get("redis")
    if redis is None:
        return MemoryStorage()
    return RedisStorage(app.config["REDIS_URL"], connection_pool=redis.connection_pool,
                        key_prefix=app.config["REDIS_PREFIX"] + "rl")
