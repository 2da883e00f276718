"""Who is in a room now: the "N here" of the chat, right across web processes.

Each open socket is one entry ``<viewer>|<socket>`` in its room, where the viewer is
``u<user id>`` for a logged-in person and the socket's own id for a visitor, so that
one person in three tabs counts once. Entries expire unless their process refreshes
them (``TTL``), which covers a process that died without saying goodbye.

With Redis each room is a sorted set (score: expiry time) under ``REDIS_PREFIX``, shared
by every process; without Redis a dictionary of this process.
"""
import threading
import time

TTL = 60.0


def member(viewer: str, socket_id: str) -> str:
    return f"{viewer}|{socket_id}"


def _distinct_viewers(members) -> int:
    return len({m.split("|", 1)[0] for m in members})


class MemoryPresence:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rooms: dict[int, dict[str, float]] = {}

    def join(self, room_id: int, entry: str) -> None:
        with self._lock:
            self._rooms.setdefault(room_id, {})[entry] = time.time() + TTL

    def leave(self, room_id: int, entry: str) -> None:
        with self._lock:
            entries = self._rooms.get(room_id, {})
            entries.pop(entry, None)
            if not entries:
                self._rooms.pop(room_id, None)

    def refresh(self, entries: dict[int, list[str]]) -> None:
        for room_id, names in entries.items():
            for entry in names:
                self.join(room_id, entry)

    def count(self, room_id: int) -> int:
        now = time.time()
        with self._lock:
            entries = self._rooms.get(room_id, {})
            return _distinct_viewers(e for e, expiry in entries.items() if expiry > now)


class RedisPresence:
    def __init__(self, redis, prefix: str) -> None:
        self.redis, self.prefix = redis, prefix

    def _key(self, room_id: int) -> str:
        return f"{self.prefix}presence:{room_id}"

    def join(self, room_id: int, entry: str) -> None:
        key = self._key(room_id)
        pipe = self.redis.pipeline()
        pipe.zadd(key, {entry: time.time() + TTL})
        pipe.expire(key, int(TTL * 2))
        pipe.execute()

    def leave(self, room_id: int, entry: str) -> None:
        self.redis.zrem(self._key(room_id), entry)

    def refresh(self, entries: dict[int, list[str]]) -> None:
        if not entries:
            return
        expiry = time.time() + TTL
        pipe = self.redis.pipeline()
        for room_id, names in entries.items():
            if names:
                pipe.zadd(self._key(room_id), dict.fromkeys(names, expiry))
                pipe.expire(self._key(room_id), int(TTL * 2))
        pipe.execute()

    def count(self, room_id: int) -> int:
        key, now = self._key(room_id), time.time()
        pipe = self.redis.pipeline()
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zrangebyscore(key, now, "+inf")
        members = pipe.execute()[1]
        return _distinct_viewers(m.decode() if isinstance(m, bytes) else m for m in members)


def for_app(app):
    """The app's presence: in Redis when it has one, else in this process."""
    if "presence" not in app.extensions:
        redis = app.extensions.get("redis")
        app.extensions["presence"] = (RedisPresence(redis, app.config["REDIS_PREFIX"])
                                      if redis is not None else MemoryPresence())
    return app.extensions["presence"]
