"""The broker: fan-out of small JSON payloads (ids, never HTML) to every process.

``publish(channel, payload)`` reaches every ``subscribe(channel, callback)`` of every
process sharing the broker: Redis pub/sub when ``REDIS_URL`` is set (``RedisBroker``),
in-process otherwise (``MemoryBroker``). Callbacks run in the broker's one dispatcher
thread of the process, one at a time, in publish order; they must be quick (hand the
payload to a queue) and should not raise (an exception is logged and dropped).

Pub/sub is at-most-once: a Redis subscription is lost while its connection is down.
``on_reconnect(subscription)`` is called, from the dispatcher thread, once a
subscription is live again after such a gap, so the subscriber can catch up from the
database by last id. Nothing connects and no thread starts before the first
``subscribe`` (safe for gunicorn's fork).
"""
import json
import logging
import os
import queue
import threading
import time
import uuid

from flask import current_app
from redis import Redis, RedisError
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)


class Subscription:
    """One callback on one channel; ``close()`` stops its deliveries."""

    def __init__(self, broker, channel: str, callback, on_reconnect=None) -> None:
        self.broker, self.channel = broker, channel
        self.callback, self.on_reconnect = callback, on_reconnect
        self.closed = False
        self.live = False           # the broker receives the channel's messages for it
        self.gap = False            # it was handed out while not live: messages may be lost
        self.ready = threading.Event()

    def close(self) -> None:
        """Stop delivering to this subscription (idempotent)."""
        if not self.closed:
            self.closed = True
            self.broker._remove(self)


class Broker:
    """What every broker offers; subclasses implement ``publish`` and the listening."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, list[Subscription]] = {}

    def publish(self, channel: str, payload: dict) -> None:
        raise NotImplementedError

    def publish_many(self, messages) -> None:
        """``publish`` each ``(channel, payload)`` of ``messages``, in order."""
        for channel, payload in messages:
            self.publish(channel, payload)

    def subscribe(self, channel: str, callback, on_reconnect=None) -> Subscription:
        raise NotImplementedError

    def close(self) -> None:
        """Stop the dispatcher thread; later publishes reach no subscriber of this one."""

    def _add(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.setdefault(sub.channel, []).append(sub)

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.channel, [])
            if sub in subs:
                subs.remove(sub)
            if not subs:
                self._subs.pop(sub.channel, None)

    def _dispatch(self, channel: str, payload: dict) -> None:
        with self._lock:
            subs = list(self._subs.get(channel, ()))
        for sub in subs:
            if not sub.closed:
                _call(sub.callback, payload)


def _call(func, *args) -> None:
    try:
        func(*args)
    except Exception:  # one subscriber's bug must not stop the others or the thread
        log.exception("broker callback %r failed", func)


def _encode(payload: dict) -> str:
    """:raise TypeError: the payload is not JSON-serialisable."""
    return json.dumps(payload, separators=(",", ":"))


class MemoryBroker(Broker):
    """The embedded broker: one process, a queue and one dispatcher thread.

    Callbacks never run in the publisher's thread, as with Redis, so a slow subscriber
    cannot hold up a request that has just committed. Each gets its own copy of the
    payload (a JSON round trip, which also refuses what Redis could not carry).
    """

    def __init__(self) -> None:
        super().__init__()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def publish(self, channel: str, payload: dict) -> None:
        """:raise TypeError: the payload is not JSON-serialisable."""
        data = _encode(payload)
        if self._thread is not None:  # no subscriber has ever existed otherwise
            self._queue.put((channel, data))

    def subscribe(self, channel: str, callback, on_reconnect=None) -> Subscription:
        sub = Subscription(self, channel, callback, on_reconnect)
        sub.live = True
        sub.ready.set()
        self._add(sub)
        with self._lock:
            if self._thread is None or self._thread.ident and not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="broker-memory",
                                                daemon=True)
                self._thread.start()
        return sub

    def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(5)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            self._dispatch(item[0], json.loads(item[1]))


class RedisBroker(Broker):
    """Redis pub/sub: channels under ``prefix``; one pub/sub connection and one listener
    thread per process, started on the first ``subscribe``.

    Publishing uses ``publisher`` (the app's client). The listener has a client of its
    own without a socket timeout (an idle subscriber would time out) and without
    redis-py's silent retries (they would resubscribe without telling anyone). On any
    error it reconnects with backoff, resubscribes, and calls each subscription's
    ``on_reconnect`` once the channel is live again. A watchdog publishes a ping to a
    channel of its own every ``watchdog_seconds`` and reconnects when the previous ping
    has not come back by then: a half-open connection stays silent without any error.
    """

    TICK = 0.1          # seconds the listener waits for a message before doing its chores
    BACKOFF_MAX = 5.0   # seconds between reconnection attempts, at most

    def __init__(self, url: str, prefix: str, publisher: Redis,
                 watchdog_seconds: float = 15.0) -> None:
        super().__init__()
        self.url, self.prefix, self.publisher = url, prefix, publisher
        self.watchdog_seconds = watchdog_seconds
        self.name = f"{prefix}broker-{uuid.uuid4().hex[:12]}"  # CLIENT LIST shows it
        self._control = self.name  # the watchdog's own channel (a full Redis name)
        self._stop = threading.Event()
        self._dirty = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._confirmed: set[str] = set()  # channels live on the current connection
        self.reconnects = 0  # connections made after the first, for tests and logs

    def publish(self, channel: str, payload: dict) -> None:
        """:raise TypeError: the payload is not JSON-serialisable.
        :raise redis.RedisError: Redis cannot be reached."""
        self.publisher.publish(self.prefix + channel, _encode(payload))

    def publish_many(self, messages) -> None:
        """As ``publish``, in one round trip (a pipeline) however many they are.
        :raise TypeError, redis.RedisError: as ``publish``."""
        with self.publisher.pipeline(transaction=False) as pipe:
            for channel, payload in messages:
                pipe.publish(self.prefix + channel, _encode(payload))
            pipe.execute()

    def subscribe(self, channel: str, callback, on_reconnect=None,
                  wait: float = 5.0) -> Subscription:
        """Subscribe, waiting up to ``wait`` seconds until Redis confirms, so that what
        is published after this returns is received. If Redis is down it returns anyway
        and calls ``on_reconnect`` once the subscription is live."""
        self._check_fork()
        sub = Subscription(self, channel, callback, on_reconnect)
        with self._lock:
            self._subs.setdefault(channel, []).append(sub)
            if self.prefix + channel in self._confirmed:
                sub.live = True
                sub.ready.set()
            else:
                self._dirty.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="broker-redis",
                                                daemon=True)
                self._thread.start()
        if not sub.ready.wait(wait):
            with self._lock:
                sub.gap = not sub.live
        return sub

    def close(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(5)

    def _remove(self, sub: Subscription) -> None:
        super()._remove(sub)
        self._dirty.set()

    def _check_fork(self) -> None:
        # A forked child inherits the parent's state but not its thread: start afresh.
        if os.getpid() != self._pid:
            self.__init__(self.url, self.prefix, self.publisher, self.watchdog_seconds)

    def _client(self) -> Redis:
        return Redis.from_url(self.url, socket_timeout=None, socket_keepalive=True,
                              health_check_interval=30, client_name=self.name,
                              retry=Retry(NoBackoff(), 0))

    def _read(self, pubsub, timeout: float):
        """The next message, or None after ``timeout`` seconds (a seam for tests)."""
        return pubsub.get_message(timeout=timeout)

    def _run(self) -> None:
        client, backoff, first = self._client(), 0.1, True
        while not self._stop.is_set():
            pubsub = client.pubsub()
            try:
                if not first:
                    self.reconnects += 1
                first = False
                self._listen(pubsub)
                backoff = 0.1
            except (RedisError, OSError) as exc:
                log.warning("broker: pub/sub connection lost (%s); reconnecting", exc)
            except Exception:
                log.exception("broker: listener failed; reconnecting")
            finally:
                self._lose_connection()
                try:
                    pubsub.reset()
                except Exception:  # the connection is being thrown away anyway
                    pass
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, self.BACKOFF_MAX)
        client.close()

    def _lose_connection(self) -> None:
        with self._lock:
            self._confirmed.clear()
            for subs in self._subs.values():
                for sub in subs:
                    if sub.live:
                        sub.live, sub.gap = False, True

    def _listen(self, pubsub) -> None:
        """Serve one connection until it fails (raises) or the broker closes (returns).

        :raise redis.RedisError: the connection failed, or the watchdog gave up on it.
        """
        pubsub.subscribe(self._control)
        sent: set[str] = set()          # channels this connection is subscribed to
        unconfirmed: dict[str, int] = {}  # SUBSCRIBE commands not yet answered
        ping = 0           # the last ping sent
        pong = 0           # the last ping received
        next_ping = time.monotonic()
        self._dirty.set()  # a new connection: subscribe to everything wanted
        while not self._stop.is_set():
            if self._dirty.is_set():
                self._dirty.clear()
                self._sync(pubsub, sent, unconfirmed)
            now = time.monotonic()
            if now >= next_ping:
                if pong < ping:
                    raise RedisError(f"watchdog: ping {ping} not back in "
                                     f"{self.watchdog_seconds} s")
                ping += 1
                self.publisher.publish(self._control, f"ping:{ping}")
                next_ping = now + self.watchdog_seconds
            message = self._read(pubsub, self.TICK)
            if message is None or message.get("channel") is None:
                continue
            kind, channel = message["type"], message["channel"].decode()
            if channel == self._control:
                if kind == "message":
                    pong = max(pong, int(message["data"].decode().split(":")[1]))
            elif kind == "message":
                self._deliver(channel[len(self.prefix):], message["data"])
            elif kind == "subscribe" and channel in unconfirmed:
                # Only the answer to the last SUBSCRIBE sent means "live from now on".
                unconfirmed[channel] -= 1
                if not unconfirmed[channel]:
                    del unconfirmed[channel]
                    if channel in sent:
                        self._activate(channel)

    def _deliver(self, channel: str, data: bytes) -> None:
        try:
            payload = json.loads(data)
        except ValueError:  # someone else's junk on our channel: not a connection fault
            log.warning("broker: ignored a non-JSON message on %s", channel)
            return
        self._dispatch(channel, payload)

    def _sync(self, pubsub, sent: set[str], unconfirmed: dict[str, int]) -> None:
        """Subscribe to the channels someone wants, unsubscribe from the others."""
        with self._lock:
            wanted = {self.prefix + c for c in self._subs}
            gone = sent - wanted
            self._confirmed -= gone
        sent -= gone
        if gone:
            pubsub.unsubscribe(*gone)
        new = wanted - sent
        sent |= new
        for channel in new:
            unconfirmed[channel] = unconfirmed.get(channel, 0) + 1
        if new:
            pubsub.subscribe(*new)

    def _activate(self, channel: str) -> None:
        with self._lock:
            self._confirmed.add(channel)
            subs = [s for s in self._subs.get(channel[len(self.prefix):], ()) if not s.live]
            for sub in subs:
                sub.live = True
                sub.ready.set()
            caught_up = [s for s in subs if s.gap and not s.closed]
            for sub in caught_up:
                sub.gap = False
        for sub in caught_up:
            if sub.on_reconnect is not None:
                _call(sub.on_reconnect, sub)


def init_app(app) -> None:
    """``app.extensions["broker"]``: Redis pub/sub when REDIS_URL is set (channels under
    REDIS_PREFIX), in-process otherwise. Connects to nothing yet."""
    if app.config.get("REDIS_URL"):
        app.extensions["broker"] = RedisBroker(
            app.config["REDIS_URL"], app.config["REDIS_PREFIX"], app.extensions["redis"],
            watchdog_seconds=app.config.get("BROKER_WATCHDOG_SECONDS", 15.0))
    else:
        app.extensions["broker"] = MemoryBroker()


# Domain event -> the "type" published on the room's channel.
CHAT_EVENT_TYPES = {"message-posted": "message", "message-edited": "message_edited",
                    "message-deleted": "message_deleted"}


def connect_chat_events(app) -> None:
    """After each commit, publish a chat message's change on ``room:<room_id>``."""
    from webapp import events

    for signal in (events.message_posted, events.message_edited, events.message_deleted):
        events.connect(app, signal, _publish_chat_event(CHAT_EVENT_TYPES[signal.name]))


def _publish_chat_event(kind: str):
    def receiver(app, room_id: int, message_id: int, **_) -> None:
        payload = {"type": kind, "room_id": room_id, "message_id": message_id}
        try:
            app.extensions["broker"].publish(f"room:{room_id}", payload)
        except RedisError as exc:  # committed anyway: clients catch up by last id
            log.warning("broker: %s for message %s not published (%s)", kind, message_id, exc)
    return receiver


def get_broker() -> Broker:
    """The current app's broker."""
    return current_app.extensions["broker"]
