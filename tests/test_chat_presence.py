"""Presence ("N here") and the hub of one process: joining, leaving, fan-out of broker
events to every socket of a room, catch-up after a broker reconnect, and shutdown."""
import time

import pytest
from redis import Redis

from webapp import presence
from webapp.chat.hub import SERVICE_RESTART, Close, Hub, LiveEvent, Member, Resync


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def drain(member) -> list:
    items = []
    while not member.queue.empty():
        items.append(member.queue.get())
    return items


@pytest.fixture(params=["memory", "redis"])
def store(request, shared_redis_url):
    if request.param == "memory":
        return presence.MemoryPresence()
    return presence.RedisPresence(Redis.from_url(shared_redis_url),
                                  f"crema-test-presence-{time.monotonic_ns()}:")


class TestPresence:
    def test_counts_people_not_tabs(self, store):
        store.join(1, presence.member("u1", "a"))
        store.join(1, presence.member("u1", "b"))
        store.join(1, presence.member("u2", "c"))
        store.join(2, presence.member("u3", "d"))
        assert store.count(1) == 2 and store.count(2) == 1

    def test_a_person_stays_while_one_of_their_tabs_is_open(self, store):
        store.join(1, presence.member("u1", "a"))
        store.join(1, presence.member("u1", "b"))
        store.leave(1, presence.member("u1", "a"))
        assert store.count(1) == 1
        store.leave(1, presence.member("u1", "b"))
        assert store.count(1) == 0

    def test_entries_not_refreshed_expire(self, store, monkeypatch):
        store.join(1, presence.member("u1", "a"))
        store.join(1, presence.member("u2", "b"))
        later = time.time() + presence.TTL + 1
        store.refresh({1: [presence.member("u2", "b")]})  # u1's process is gone
        monkeypatch.setattr(presence.time, "time", lambda: later - 2)
        store.refresh({1: [presence.member("u2", "b")]})
        monkeypatch.setattr(presence.time, "time", lambda: later)
        assert store.count(1) == 1


@pytest.fixture
def hub(app):
    hub = Hub(app)
    yield hub
    hub.shutdown()


class TestHub:
    def test_a_broker_event_reaches_every_socket_of_the_room_once(self, app, hub):
        a, b, other = Member(1, "u1"), Member(1, None), Member(2, "u2")
        for member in (a, b, other):
            assert hub.join(member)
        drain(a), drain(b), drain(other)
        app.extensions["broker"].publish("room:1", {"type": "message", "room_id": 1,
                                                   "message_id": 7})
        assert wait_for(lambda: not a.queue.empty() and not b.queue.empty())
        (event_a,), (event_b,) = [[i for i in drain(m) if isinstance(i, LiveEvent)
                                   and i.kind == "message"] for m in (a, b)]
        assert event_a is event_b and event_a.message_id == 7  # shared: loaded once
        assert [i for i in drain(other) if isinstance(i, LiveEvent) and i.kind == "message"] == []

    def test_presence_is_announced_to_the_room(self, hub):
        a, b = Member(1, "u1"), Member(1, "u2")
        hub.join(a)
        assert wait_for(lambda: any(isinstance(i, LiveEvent) and i.count == 1
                                    for i in list(a.queue.queue)))
        drain(a)
        hub.join(b)
        assert wait_for(lambda: any(isinstance(i, LiveEvent) and i.count == 2
                                    for i in list(a.queue.queue)))
        drain(a)
        hub.leave(b)
        assert wait_for(lambda: any(isinstance(i, LiveEvent) and i.count == 1
                                    for i in list(a.queue.queue)))
        assert hub.count(1) == 1

    def test_the_last_socket_to_leave_ends_the_subscription(self, app, hub):
        a = Member(1, "u1")
        hub.join(a)
        hub.leave(a)
        broker = app.extensions["broker"]
        assert wait_for(lambda: not broker._subs.get("room:1"))

    def test_a_broker_reconnect_asks_every_socket_to_catch_up(self, hub):
        a = Member(1, "u1")
        hub.join(a)
        drain(a)
        hub._on_reconnect(1, None)
        assert any(isinstance(i, Resync) for i in drain(a))

    def test_shutdown_closes_every_socket_with_1012_and_refuses_new_ones(self, hub):
        a, b = Member(1, "u1"), Member(2, "u2")
        hub.join(a), hub.join(b)
        assert hub.shutdown() == 2
        for member in (a, b):
            closes = [i for i in drain(member) if isinstance(i, Close)]
            assert [c.code for c in closes] == [SERVICE_RESTART] == [1012]
        assert hub.join(Member(1, "u3")) is False


def test_presence_is_shared_by_two_processes_over_redis(two_apps):
    """Two apps, as two web processes: each counts the sockets of the other."""
    apps = two_apps
    hubs = [Hub(a) for a in apps]
    try:
        one, two = Member(5, "u1"), Member(5, "u2")
        hubs[0].join(one)
        hubs[1].join(two)
        assert hubs[0].count(5) == hubs[1].count(5) == 2
        assert wait_for(lambda: any(isinstance(i, LiveEvent) and i.count == 2
                                    for i in list(one.queue.queue)))
        hubs[1].leave(two)
        assert wait_for(lambda: any(isinstance(i, LiveEvent) and i.count == 1
                                    for i in list(one.queue.queue)))
    finally:
        for h in hubs:
            h.shutdown()
        for a in apps:
            a.extensions["broker"].close()
