"""The broker: in-process and Redis pub/sub, delivery, reconnects and the watchdog.

Redis tests use a real server (TEST_REDIS_URL, or a private redis-server from the
``shared_redis_url`` fixture) and two RedisBroker instances standing for two web
processes; one test publishes from a real second Python process.
"""
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis

from tests.conftest import make_app
from tests.fixtures.catalog_caches import _free_port
from webapp.broker import MemoryBroker, RedisBroker, get_broker

ROOT = Path(__file__).resolve().parent.parent


class Inbox:
    """What a callback received, with a way to wait for it."""

    def __init__(self) -> None:
        self.items: list = []
        self.threads: set[str] = set()
        self.cond = threading.Condition()

    def __call__(self, payload) -> None:
        with self.cond:
            self.items.append(payload)
            self.threads.add(threading.current_thread().name)
            self.cond.notify_all()

    def wait_for(self, count: int, timeout: float = 20.0) -> list:
        with self.cond:
            self.cond.wait_for(lambda: len(self.items) >= count, timeout)
            return list(self.items)


def settle(broker, channel: str, inboxes) -> None:
    """Publish a marker and wait until every inbox has it: all earlier messages are in."""
    marker = {"marker": uuid.uuid4().hex}
    broker.publish(channel, marker)
    for inbox in inboxes:
        deadline = time.monotonic() + 20
        while marker not in inbox.items and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker in inbox.items
        inbox.items.remove(marker)


def wait_until(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


# --- MemoryBroker -------------------------------------------------------------------

@pytest.fixture
def memory():
    broker = MemoryBroker()
    yield broker
    broker.close()


def test_memory_delivers_to_every_subscriber_once_in_order(memory):
    first, second, other = Inbox(), Inbox(), Inbox()
    memory.subscribe("room:1", first)
    memory.subscribe("room:1", second)
    memory.subscribe("room:2", other)
    for n in range(500):
        memory.publish("room:1", {"n": n})
    expected = [{"n": n} for n in range(500)]
    assert first.wait_for(500) == expected
    assert second.wait_for(500) == expected
    settle(memory, "room:2", [other])
    assert other.items == []


def test_memory_callbacks_run_in_the_dispatcher_thread_on_a_copy(memory):
    inbox = Inbox()
    memory.subscribe("room:1", inbox)
    payload = {"type": "message", "message_id": 7}
    memory.publish("room:1", payload)
    assert inbox.wait_for(1) == [payload]
    assert inbox.items[0] is not payload
    assert inbox.threads == {"broker-memory"}


def test_memory_close_stops_delivery(memory):
    kept, closed = Inbox(), Inbox()
    memory.subscribe("room:1", kept)
    subscription = memory.subscribe("room:1", closed)
    memory.publish("room:1", {"n": 1})
    settle(memory, "room:1", [kept, closed])
    subscription.close()
    memory.publish("room:1", {"n": 2})
    settle(memory, "room:1", [kept])
    assert kept.items == [{"n": 1}, {"n": 2}]
    assert closed.items == [{"n": 1}]


def test_memory_refuses_a_payload_json_cannot_carry(memory):
    memory.subscribe("room:1", Inbox())
    with pytest.raises(TypeError):
        memory.publish("room:1", {"when": object()})


def test_a_failing_callback_does_not_stop_the_others(memory):
    def broken(payload):
        raise RuntimeError("subscriber bug")

    inbox = Inbox()
    memory.subscribe("room:1", broken)
    memory.subscribe("room:1", inbox)
    memory.publish("room:1", {"n": 1})
    memory.publish("room:1", {"n": 2})
    assert inbox.wait_for(2) == [{"n": 1}, {"n": 2}]


def test_the_embedded_app_gets_a_memory_broker(database_url, _schema):
    app = make_app(database_url, REDIS_URL=None)
    with app.app_context():
        assert isinstance(get_broker(), MemoryBroker)


# --- RedisBroker --------------------------------------------------------------------

def broker_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("broker-redis")]


@pytest.fixture
def redis_url(shared_redis_url):
    return shared_redis_url


@pytest.fixture
def prefix():
    return f"crema-test-broker-{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def make_broker(redis_url, prefix):
    """Factory of RedisBrokers on one Redis and prefix: each stands for a web process."""
    made = []

    def factory(**options):
        broker = RedisBroker(redis_url, prefix, redis.Redis.from_url(redis_url, socket_timeout=5),
                             **options)
        made.append(broker)
        return broker

    yield factory
    for broker in made:
        broker.close()
        broker.publisher.close()


def admin(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def pubsub_clients(url: str, broker) -> list[dict]:
    return [c for c in admin(url).client_list(_type="pubsub") if c["name"] == broker.name]


def test_app_with_redis_connects_nothing_until_the_first_subscribe(database_url, _schema,
                                                                   redis_url):
    before = broker_threads()
    app = make_app(database_url, REDIS_URL=redis_url)
    with app.app_context():
        broker = get_broker()
        assert isinstance(broker, RedisBroker)
        assert broker.prefix == app.config["REDIS_PREFIX"]
        assert broker.publisher is app.extensions["redis"]
        broker.publish("room:1", {"n": 1})  # publishing needs no listener
        assert broker._thread is None and broker_threads() == before
        assert pubsub_clients(redis_url, broker) == []
        inbox = Inbox()
        broker.subscribe("room:1", inbox)
        assert broker._thread.daemon and broker._thread.is_alive()
        assert len(pubsub_clients(redis_url, broker)) == 1
        broker.publish("room:1", {"n": 2})
        assert inbox.wait_for(1) == [{"n": 2}]
        broker.close()
    assert broker_threads() == before


def test_the_listener_has_a_client_of_its_own_that_waits_forever(make_broker):
    broker = make_broker()
    options = broker._client().connection_pool.connection_kwargs
    assert options["socket_timeout"] is None  # the app's client times out after 5 s
    assert options["socket_keepalive"] is True and options["health_check_interval"] == 30
    assert options["client_name"] == broker.name
    assert broker.publisher.connection_pool.connection_kwargs["socket_timeout"] == 5


def test_two_processes_each_receive_every_message_once_in_order(make_broker):
    a, b = make_broker(), make_broker()
    on_a, on_b, also_b, elsewhere = Inbox(), Inbox(), Inbox(), Inbox()
    a.subscribe("room:1", on_a)
    b.subscribe("room:1", on_b)
    b.subscribe("room:1", also_b)
    b.subscribe("room:2", elsewhere)
    for n in range(1000):
        a.publish("room:1", {"type": "message", "room_id": 1, "message_id": n})
    expected = [{"type": "message", "room_id": 1, "message_id": n} for n in range(1000)]
    assert on_a.wait_for(1000) == expected
    assert on_b.wait_for(1000) == expected
    assert also_b.wait_for(1000) == expected
    settle(a, "room:1", [on_a, on_b, also_b])  # nothing doubled arrives late
    assert (on_a.items, on_b.items, also_b.items) == (expected, expected, expected)
    settle(a, "room:2", [elsewhere])
    assert elsewhere.items == []
    assert on_b.threads == {"broker-redis"}


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_publish_many_delivers_each_to_its_channel_in_order(kind, memory, make_broker):
    sender = memory if kind == "memory" else make_broker()
    receiver = memory if kind == "memory" else make_broker()
    inboxes = {user: Inbox() for user in (1, 2, 3)}
    for user, inbox in inboxes.items():
        receiver.subscribe(f"user:{user}", inbox)
    sender.publish_many((f"user:{user}", {"n": n}) for n in range(100) for user in (1, 3))
    expected = [{"n": n} for n in range(100)]
    assert inboxes[1].wait_for(100) == expected
    assert inboxes[3].wait_for(100) == expected
    settle(sender, "user:2", [inboxes[2]])
    assert inboxes[2].items == []


def test_channels_live_under_the_prefix(make_broker, redis_url, prefix):
    broker = make_broker()
    inbox = Inbox()
    broker.subscribe("room:9", inbox)
    assert admin(redis_url).publish(prefix + "room:9", '{"n": 1}') == 1
    assert admin(redis_url).publish("room:9", '{"n": 2}') == 0
    assert inbox.wait_for(1) == [{"n": 1}]


def test_unsubscribe_stops_delivery_and_the_redis_subscription(make_broker, redis_url, prefix):
    a, b = make_broker(), make_broker()
    kept, dropped = Inbox(), Inbox()
    b.subscribe("room:1", kept)
    subscription = b.subscribe("room:2", dropped)
    a.publish("room:2", {"n": 1})
    settle(a, "room:2", [dropped])
    subscription.close()
    wait_until(lambda: admin(redis_url).pubsub_numsub(prefix + "room:2")[0][1] == 0)
    a.publish("room:2", {"n": 2})
    settle(a, "room:1", [kept])
    assert dropped.items == [{"n": 1}]
    again = Inbox()
    b.subscribe("room:2", again)
    a.publish("room:2", {"n": 3})
    assert again.wait_for(1) == [{"n": 3}]


def test_killed_connection_reconnects_resubscribes_and_calls_on_reconnect(make_broker,
                                                                         redis_url):
    a, b = make_broker(), make_broker()
    inbox, reconnected = Inbox(), Inbox()
    subscription = b.subscribe("room:1", inbox, on_reconnect=reconnected)
    a.publish("room:1", {"n": 1})
    assert inbox.wait_for(1) == [{"n": 1}]
    [client] = pubsub_clients(redis_url, b)
    assert admin(redis_url).client_kill_filter(_id=client["id"]) == 1
    assert reconnected.wait_for(1) == [subscription]
    assert b.reconnects == 1
    [new_client] = pubsub_clients(redis_url, b)
    assert new_client["id"] != client["id"]
    a.publish("room:1", {"n": 2})
    settle(a, "room:1", [inbox])
    assert inbox.items == [{"n": 1}, {"n": 2}]
    assert reconnected.items == [subscription]


def test_watchdog_reconnects_a_silent_connection(make_broker, monkeypatch):
    a, b = make_broker(), make_broker(watchdog_seconds=0.5)
    inbox, reconnected = Inbox(), Inbox()
    b.subscribe("room:1", inbox, on_reconnect=reconnected)
    silent = []
    real_read = b._read

    def half_open(pubsub, timeout):
        # The connection that was current when the link "broke" delivers nothing more,
        # and raises nothing either: what a half-open TCP connection looks like.
        if pubsub in silent:
            time.sleep(timeout)
            return None
        return real_read(pubsub, timeout)

    def capture(pubsub, timeout):
        silent.append(pubsub)
        monkeypatch.setattr(b, "_read", half_open)
        return None

    # On b alone: other brokers of the process (other tests' apps) keep listening.
    monkeypatch.setattr(b, "_read", capture)
    wait_until(lambda: silent)
    a.publish("room:1", {"n": 1})  # lost on the silent connection
    assert reconnected.wait_for(1) == [b._subs["room:1"][0]]
    assert b.reconnects == 1
    a.publish("room:1", {"n": 2})
    settle(a, "room:1", [inbox])
    assert inbox.items == [{"n": 2}]


def test_a_forked_child_starts_its_own_listener(make_broker):
    """gunicorn forks workers: a child must not rely on the parent's (absent) thread."""
    broker = make_broker()
    replies = Inbox()
    broker.subscribe("room:reply", replies)  # the parent's listener runs before the fork
    pid = os.fork()
    if pid == 0:  # the child: subscribe, say so, echo one message back, leave
        code = 1
        try:
            got = Inbox()
            broker.subscribe("room:to-child", got, wait=10)
            broker.publish("room:reply", {"ready": True})
            code = 0 if got.wait_for(1) == [{"n": 42}] else 2
            broker.publish("room:reply", {"echo": got.items})
        finally:
            os._exit(code)
    assert replies.wait_for(1) == [{"ready": True}]
    broker.publish("room:to-child", {"n": 42})
    assert replies.wait_for(2) == [{"ready": True}, {"echo": [{"n": 42}]}]
    assert os.waitpid(pid, 0)[1] == 0


class PrivateRedis:
    """A redis-server of this test's own, to stop and start again on the same port."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._answers)

    def _answers(self) -> bool:
        try:
            return redis.Redis.from_url(self.url).ping()
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


def test_redis_restart_and_subscribe_while_down(private_redis, prefix):
    publisher = redis.Redis.from_url(private_redis.url, socket_timeout=5)
    broker = RedisBroker(private_redis.url, prefix, publisher)
    try:
        early, early_reconnected = Inbox(), Inbox()
        first = broker.subscribe("room:1", early, on_reconnect=early_reconnected)
        broker.publish("room:1", {"n": 1})
        assert early.wait_for(1) == [{"n": 1}]
        private_redis.stop()
        wait_until(lambda: broker.reconnects >= 2)  # keeps trying, with backoff
        late, late_reconnected = Inbox(), Inbox()
        second = broker.subscribe("room:2", late, on_reconnect=late_reconnected, wait=0.3)
        assert (first.live, second.live, second.gap) == (False, False, True)
        assert early_reconnected.items == late_reconnected.items == []
        private_redis.start()
        assert early_reconnected.wait_for(1) == [first]
        assert late_reconnected.wait_for(1) == [second]
        broker.publish("room:1", {"n": 2})
        broker.publish("room:2", {"n": 3})
        assert early.wait_for(2) == [{"n": 1}, {"n": 2}]
        assert late.wait_for(1) == [{"n": 3}]
    finally:
        broker.close()
        publisher.close()


def test_a_second_process_publishes_and_this_one_receives(make_broker, redis_url, prefix):
    broker = make_broker()
    inbox = Inbox()
    broker.subscribe("room:5", inbox)
    script = (
        "import sys, redis\n"
        "from webapp.broker import RedisBroker\n"
        "url, prefix = sys.argv[1], sys.argv[2]\n"
        "broker = RedisBroker(url, prefix, redis.Redis.from_url(url))\n"
        "for n in range(200):\n"
        "    broker.publish('room:5', {'type': 'message', 'room_id': 5, 'message_id': n})\n"
    )
    done = subprocess.run([sys.executable, "-c", script, redis_url, prefix], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    expected = [{"type": "message", "room_id": 5, "message_id": n} for n in range(200)]
    assert inbox.wait_for(200) == expected
    settle(broker, "room:5", [inbox])
    assert inbox.items == expected


# --- Chat events, published after commit ------------------------------------------

@pytest.fixture
def app_broker(app):
    """The test app's broker (Redis when TEST_REDIS_URL is set), closed after the test."""
    broker = get_broker()
    yield broker
    broker.close()


def test_chat_events_are_published_on_the_room_channel_after_commit(app_broker, topic_rooms,
                                                                    make_user):
    from webapp.services import chat

    room, other_room = topic_rooms["general"], topic_rooms["gear"]
    user = make_user("poster")
    inbox, elsewhere = Inbox(), Inbox()
    app_broker.subscribe(f"room:{room.id}", inbox)
    app_broker.subscribe(f"room:{other_room.id}", elsewhere)
    message = chat.post_message(room.id, user.id, "First light roast of the year")
    chat.edit_message(message.id, user.id, "First light roast of the year!")
    chat.delete_message(message.id, user.id)
    expected = [{"type": kind, "room_id": room.id, "message_id": message.id}
                for kind in ("message", "message_edited", "message_deleted")]
    assert inbox.wait_for(3) == expected
    settle(app_broker, f"room:{room.id}", [inbox])
    assert inbox.items == expected
    settle(app_broker, f"room:{other_room.id}", [elsewhere])
    assert elsewhere.items == []


def test_a_message_rolled_back_is_never_published(app_broker, topic_rooms, make_user, db,
                                                   monkeypatch):
    from webapp.services import chat

    room = topic_rooms["general"]
    user = make_user("poster")
    inbox = Inbox()
    app_broker.subscribe(f"room:{room.id}", inbox)

    def fail_commit():
        raise RuntimeError("database went away")

    monkeypatch.setattr(db.session, "commit", fail_commit)
    with pytest.raises(RuntimeError):
        chat.post_message(room.id, user.id, "Never stored")
    monkeypatch.undo()
    db.session.rollback()
    settle(app_broker, f"room:{room.id}", [inbox])
    assert inbox.items == []


def test_a_publish_failure_does_not_undo_the_message(app_broker, topic_rooms, make_user, db,
                                                     monkeypatch, caplog):
    from webapp.models import Message
    from webapp.services import chat

    def unreachable(channel, payload):
        raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(app_broker, "publish", unreachable)
    user = make_user("poster")
    message = chat.post_message(topic_rooms["general"].id, user.id, "Stored with Redis down")
    db.session.expire_all()
    assert db.session.get(Message, message.id).body == "Stored with Redis down"
    assert f"message for message {message.id} not published" in caplog.text
