"""The live rooms of one web process: its sockets, and the fan-out to them.

Per room with at least one socket here, the hub holds one broker subscription on
``room:<id>`` and one fan-out thread (a greenlet under gevent). An event from the broker
becomes one ``LiveEvent``, queued to the room's fan-out, which offers it to each socket
of the room in turn, in publish order: a socket with nothing waiting sends it there and
then (one loop over the sockets, as a bare broadcast does); a busy one queues it for its
own greenlet. The message is read from the database once per process and each of its
renders (per kind of viewer and language) made once.

Presence: each socket is an entry in webapp.presence; a join or leave is published on
the room's channel, and every process recounts the room (at most every
``PRESENCE_DELAY`` seconds) and tells its sockets. A heartbeat keeps this process's
entries alive.

``shutdown()`` (gunicorn's worker exit, see gunicorn.conf.py) closes every socket with
1012, "service restart", which htmx's WebSocket extension answers by reconnecting.
"""
import logging
import queue
import threading
import uuid
from functools import partial

from webapp import presence as presence_store

log = logging.getLogger(__name__)

PRESENCE_DELAY = 0.2
HEARTBEAT_SECONDS = 20.0
SERVICE_RESTART = 1012
MESSAGE_EVENTS = ("message", "message_edited", "message_deleted")


class LiveEvent:
    """One broker event as every socket of the room in this process shares it."""

    def __init__(self, payload: dict) -> None:
        self.kind = payload.get("type")
        self.room_id = payload.get("room_id")
        self.message_id = payload.get("message_id")
        self.count = payload.get("count")  # presence
        self._lock = threading.Lock()
        self._cache: dict = {}

    def once(self, key, make):
        """``make()`` the first time ``key`` is asked for, its result every time."""
        found = self._cache.get(key)
        if found is not None:  # made already: no lock (a dict read is atomic)
            return found
        with self._lock:
            if key not in self._cache:
                self._cache[key] = make()
            return self._cache[key]


class Resync:
    """The broker's subscription was down for a while: catch up from the database."""


class Close:
    def __init__(self, code: int, reason: str) -> None:
        self.code, self.reason = code, reason


class Member:
    """What the hub knows of a socket: its room, its queue, its presence entry.

    ``pending`` counts the items queued and not yet handled; ``offer`` (the fan-out's
    entry) only queues here, and a socket replaces it with one that may send at once.
    """

    def __init__(self, room_id: int, viewer_key: str | None) -> None:
        self.room_id = room_id
        self.id = uuid.uuid4().hex[:16]
        self.entry = presence_store.member(viewer_key or f"v{self.id}", self.id)
        self.queue: queue.Queue = queue.Queue()
        self.pending = 0
        self._count = threading.Lock()

    def push(self, item) -> None:
        with self._count:
            self.pending += 1
        self.queue.put(item)

    def done(self) -> None:
        """One queued item is handled."""
        with self._count:
            self.pending -= 1

    def offer(self, event: "LiveEvent") -> None:
        self.push(event)


class _Room:
    """A room's sockets in this process (guarded by the hub's ``lock``), its broker
    subscription and its fan-out thread."""

    def __init__(self, room_id: int, lock) -> None:
        self._lock = lock
        self.members: set[Member] = set()
        self.subscription = None
        self.ready = threading.Event()
        self.outbox: queue.SimpleQueue = queue.SimpleQueue()
        self.fan_out = threading.Thread(target=self._fan_out, name=f"chat-room-{room_id}",
                                         daemon=True)
        self.fan_out.start()

    def _fan_out(self) -> None:
        while (event := self.outbox.get()) is not None:
            with self._lock:
                members = list(self.members)
            for member in members:
                try:
                    member.offer(event)
                except Exception:  # one socket's failure must not starve the others
                    log.exception("chat: offering an event to a socket failed")


class Hub:
    def __init__(self, app) -> None:
        self.app = app
        self.broker = app.extensions["broker"]
        self.presence = presence_store.for_app(app)
        self._lock = threading.Lock()
        self._rooms: dict[int, _Room] = {}
        self._recount: set[int] = set()
        self._closing = False
        self._heartbeat: threading.Thread | None = None
        self._stop = threading.Event()

    # Sockets --------------------------------------------------------------------

    def join(self, member: Member) -> bool:
        """Add a socket to its room; once this returns, every event published on the
        room reaches the member's queue. False when the process is shutting down."""
        with self._lock:
            if self._closing:
                return False
            room = self._rooms.get(member.room_id)
            first = room is None
            if first:
                room = self._rooms[member.room_id] = _Room(member.room_id, self._lock)
            room.members.add(member)
            if self._heartbeat is None:
                self._heartbeat = threading.Thread(target=self._beat, name="chat-heartbeat",
                                                   daemon=True)
                self._heartbeat.start()
        if first:
            room.subscription = self.broker.subscribe(
                f"room:{member.room_id}", partial(self._on_event, member.room_id),
                on_reconnect=partial(self._on_reconnect, member.room_id))
            room.ready.set()
        else:
            room.ready.wait(10)
        self._presence_changed(member.room_id, join=member.entry)
        return True

    def leave(self, member: Member) -> None:
        subscription = None
        with self._lock:
            room = self._rooms.get(member.room_id)
            if room is None or member not in room.members:
                return
            room.members.discard(member)
            if not room.members:
                del self._rooms[member.room_id]
                subscription = room.subscription
                room.outbox.put(None)
        if subscription is not None:
            subscription.close()
        self._presence_changed(member.room_id, leave=member.entry)

    def members(self, room_id: int) -> list[Member]:
        with self._lock:
            room = self._rooms.get(room_id)
            return list(room.members) if room else []

    def count(self, room_id: int) -> int:
        """How many people are in the room now, in every process."""
        return self.presence.count(room_id)

    def shutdown(self, reason: str = "Server restarting") -> int:
        """Close every socket of this process with 1012; returns how many."""
        with self._lock:
            self._closing = True
            members = [m for room in self._rooms.values() for m in room.members]
            for room in self._rooms.values():
                room.outbox.put(None)
        for member in members:
            member.push(Close(SERVICE_RESTART, reason))
        self._stop.set()
        return len(members)

    def size(self) -> int:
        """How many sockets this process holds."""
        with self._lock:
            return sum(len(room.members) for room in self._rooms.values())

    # From the broker's thread: quick, never raising ------------------------------

    def _on_event(self, room_id: int, payload: dict) -> None:
        kind = payload.get("type")
        if kind in MESSAGE_EVENTS:
            self._send_out(room_id, LiveEvent(payload))
        elif kind == "presence":
            self._schedule_recount(room_id)

    def _send_out(self, room_id: int, event: LiveEvent) -> None:
        with self._lock:
            room = self._rooms.get(room_id)
        if room is not None:
            room.outbox.put(event)

    def _on_reconnect(self, room_id: int, _subscription) -> None:
        for member in self.members(room_id):
            member.push(Resync())

    # Presence -------------------------------------------------------------------

    def _presence_changed(self, room_id: int, join: str | None = None,
                          leave: str | None = None) -> None:
        try:
            if join:
                self.presence.join(room_id, join)
            if leave:
                self.presence.leave(room_id, leave)
            self.broker.publish(f"room:{room_id}", {"type": "presence", "room_id": room_id})
        except Exception as exc:  # Redis away: the count is stale, the chat still works
            log.warning("chat: presence of room %s not updated (%s)", room_id, exc)
            self._schedule_recount(room_id)

    def _schedule_recount(self, room_id: int) -> None:
        with self._lock:
            if room_id in self._recount or room_id not in self._rooms:
                return
            self._recount.add(room_id)
        timer = threading.Timer(PRESENCE_DELAY, self._recount_room, (room_id,))
        timer.daemon = True
        timer.start()

    def _recount_room(self, room_id: int) -> None:
        with self._lock:
            self._recount.discard(room_id)
        try:
            count = self.presence.count(room_id)
        except Exception as exc:
            log.warning("chat: presence of room %s not counted (%s)", room_id, exc)
            return
        self._send_out(room_id, LiveEvent({"type": "presence", "room_id": room_id,
                                           "count": count}))

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            with self._lock:
                entries = {room_id: [m.entry for m in room.members]
                           for room_id, room in self._rooms.items()}
            try:
                self.presence.refresh(entries)
            except Exception as exc:
                log.warning("chat: presence heartbeat failed (%s)", exc)
                continue
            for room_id in entries:  # entries of a process that died have expired
                self._schedule_recount(room_id)


def get_hub(app) -> Hub:
    """The app's hub in this process (created on first use, after any fork)."""
    hub = app.extensions.get("chat_hub")
    if hub is None:
        hub = app.extensions.setdefault("chat_hub", Hub(app))
    return hub


def shutdown(app) -> int:
    """Close this process's sockets with 1012 (a no-op when none was ever opened)."""
    hub = app.extensions.get("chat_hub")
    return hub.shutdown() if hub is not None else 0
