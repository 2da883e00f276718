"""The chat socket end to end: real WebSocket clients against running servers.

Most tests use the live server (the test app under werkzeug, a thread per socket); the
restart and two-process tests run gunicorn with its gevent worker, as production does.
Every wait has a deadline and the assertions are on content, order and counts.
"Exactly once" and "nothing else" are read up to a marker: a message posted through the
service after the action, which reaches each socket of the room after everything the
room's channel carried before it (the broker delivers in publish order and each socket
handles its queue in order).
"""
import itertools
import json
import os
import socket
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests
import websocket
from sqlalchemy.exc import OperationalError
from sqlalchemy import delete, select, update

from tests.fixtures.catalog_caches import _free_port
from tests.fixtures.chat_servers import (
    WAIT, ChatSocket, article, changed_ids, errors, login, new_ids, presence, socket_url,
    status, story, synced_at,
)
from webapp.extensions import db, limiter
from webapp.models import Message, UserSession
from webapp.models.base import utcnow
from webapp.services import chat

NOT_UNDERSTOOD = "Crema did not understand that request."
OTHER_ROOM = "This conversation is not the one you are connected to. Reload the page."
REMOVED = "This message was removed."


@dataclass(frozen=True)
class Person:
    id: int
    username: str


@pytest.fixture
def people(make_user):
    """alice, bob and carol (users), mod (a moderator) and marker (who posts the
    markers), as plain ids and names."""
    made = [make_user(name, role=role) for name, role in
            (("alice", "user"), ("bob", "user"), ("carol", "user"), ("mod", "moderator"),
             ("marker", "user"))]
    return {u.username: Person(u.id, u.username) for u in made}


@pytest.fixture
def room(topic_rooms):
    return topic_rooms["general"].id


@pytest.fixture
def other_room(topic_rooms):
    return topic_rooms["brewing"].id


@pytest.fixture
def joined(live_server, open_socket, socket_handlers, room, people):
    """Factory: ``joined("alice")`` a socket of alice (None: a visitor) in the room,
    resumed from the room's latest message as the page would; its HTTP session is
    ``.http``. After the test, waits until every handler on the server has ended."""

    def join(username: str | None = None, room_id: int = room, http=None,
             resume: bool = True) -> ChatSocket:
        if http is None and username is not None:
            http = login(live_server.url, username)
        sock = open_socket(live_server.url, room_id, http)
        if resume:
            sock.resume(chat.latest_id(room_id))
        return sock

    yield join
    for sock in open_socket.sockets:
        sock.close()
    socket_handlers.wait_idle()


@pytest.fixture
def settle(app, people):
    """``settle(room_id, *sockets)``: post a marker message in the room and wait until
    every socket has it; returns its id."""
    marker = people["marker"].id
    numbers = itertools.count(1)

    def post_marker(room_id: int, *sockets: ChatSocket) -> int:
        starts = [s.mark() for s in sockets]
        message_id = chat.post_message(room_id, marker, f"marker {next(numbers)}").id
        limiter.clear("chat-post", marker)
        for sock, start in zip(sockets, starts):
            sock.wait_message(message_id, start)
        return message_id

    return post_marker


def stored(room_id: int | None = None) -> list[tuple]:
    """Every message (of a room) as (id, user id, body, edited, deleted), by id."""
    stmt = select(Message.id, Message.user_id, Message.body, Message.edited_at.is_not(None),
                  Message.deleted_at.is_not(None)).order_by(Message.id)
    if room_id is not None:
        stmt = stmt.where(Message.room_id == room_id)
    with db.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(stmt)]


def by_client_id(client_id: str) -> int:
    with db.engine.connect() as conn:
        return conn.scalar(select(Message.id).where(Message.client_id == client_id))


def post(sock: ChatSocket, body: str, seen_by=(), **fields) -> int:
    """Post over the socket, expect the ack; the stored message's id, once each socket
    of ``seen_by`` has received it."""
    line = sock.post(body, **fields)
    assert line["error"] is False and line["role"] == "status", line
    message_id = by_client_id(line["sent"])
    for other in seen_by:
        other.wait_message(message_id)
    return message_id


# Sending and receiving --------------------------------------------------------------

def test_a_message_reaches_each_socket_of_the_room_once_escaped_and_linked(
        joined, settle, room, other_room, people):
    alice, bob, elsewhere = joined("alice"), joined("bob"), joined("carol", other_room)
    starts = [alice.mark(), bob.mark(), elsewhere.mark()]
    body = ('<b>bold</b> & "quoted"\nsecond line: https://example.com/a?b=1&c=2. '
            'Hi @bob and @nobody')

    message_id = post(alice, body)

    marker = settle(room, alice, bob)
    for sock, start in ((alice, starts[0]), (bob, starts[1])):
        assert new_ids(sock.since(start)) == [message_id, marker]
    html = article(bob.since(starts[1]), message_id)
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &#34;quoted&#34;\nsecond line: " in html
    assert "<b>" not in html
    assert ('<a href="https://example.com/a?b=1&amp;c=2" rel="nofollow noopener ugc" '
            'target="_blank">https://example.com/a?b=1&amp;c=2</a>. ') in html
    assert 'Hi <a class="mention" href="/users/bob">@bob</a> and @nobody' in html
    assert [row[:3] for row in stored(room)] == [(message_id, people["alice"].id, body),
                                                 (marker, people["marker"].id, "marker 1")]
    other_marker = settle(other_room, elsewhere)
    assert new_ids(elsewhere.since(starts[2])) == [other_marker]


def test_a_reply_quotes_and_links_to_the_original(joined, settle, room):
    alice, bob = joined("alice"), joined("bob")
    original = post(alice, "Which grinder do you use for   filter?\nAsking for a friend")
    start = alice.mark()

    reply = post(bob, "A hand grinder.", reply_to=str(original))

    alice.wait_message(reply, start)
    html = article(alice.since(start), reply)
    assert '<blockquote class="msg-quote">' in html
    assert f'href="/chat/{room}?before={original + 1}#msg-{original}"' in html
    assert ">Reply to alice</a>:" in html
    assert "Which grinder do you use for filter? Asking for a friend" in html
    assert html.index("</blockquote>") < html.index("A hand grinder.")
    assert '<blockquote' not in article(alice.since(0), original)


# Editing and deleting ---------------------------------------------------------------

def test_an_edit_replaces_the_message_on_every_socket(joined, settle, room):
    alice, bob, visitor = joined("alice"), joined("bob"), joined()
    message_id = post(alice, "Fresh beans from Kenya", seen_by=(alice, bob, visitor))
    starts = [s.mark() for s in (alice, bob, visitor)]

    line = alice.request(type="edit", message_id=message_id, body="Fresh beans from Ethiopia")

    assert line["error"] is False
    marker = settle(room, alice, bob, visitor)
    for sock, start in zip((alice, bob, visitor), starts):
        frames = sock.since(start)
        assert changed_ids(frames) == [message_id]
        assert new_ids(frames) == [marker]
        html = article(frames, message_id)
        assert "Fresh beans from Ethiopia" in html and "Kenya" not in html
        assert '<small class="muted">edited</small>' in html
    assert stored(room)[0][2:] == ("Fresh beans from Ethiopia", True, False)


@pytest.mark.parametrize("action, fields, refusal", [
    ("edit", {"body": "Bob was here"}, "You can only edit your own messages."),
    ("delete", {}, "You cannot delete this message."),
])
def test_changing_someone_elses_message_is_refused_to_that_client_only(
        joined, settle, room, action, fields, refusal):
    alice, bob = joined("alice"), joined("bob")
    message_id = post(alice, "Mine, not yours", seen_by=(alice, bob))
    before = stored(room)
    starts = [alice.mark(), bob.mark()]

    line = bob.request(type=action, message_id=message_id, **fields)

    assert line["error"] is True and line["role"] == "alert" and line["text"] == refusal
    assert stored(room) == before
    marker = settle(room, alice, bob)
    assert story(alice.since(starts[0])) == [f"new {[marker]}"]
    assert story(bob.since(starts[1])) == [f"error: {refusal}", f"new {[marker]}"]


def test_an_edit_after_15_minutes_is_refused(joined, settle, room):
    alice, bob = joined("alice"), joined("bob")
    message_id = post(alice, "Posted a while ago", seen_by=(alice, bob))
    db.session.execute(update(Message).where(Message.id == message_id)
                       .values(created_at=utcnow() - timedelta(minutes=15, seconds=5)))
    db.session.commit()
    before = stored(room)
    start = bob.mark()

    line = alice.request(type="edit", message_id=message_id, body="Too late to change")

    assert line["error"] is True
    assert line["text"] == "A message can be edited for 15 minutes after posting."
    assert stored(room) == before
    marker = settle(room, alice, bob)
    assert story(bob.since(start)) == [f"new {[marker]}"]


@pytest.mark.parametrize("deleter", ["alice", "mod"])
def test_a_deleted_message_shows_removed_on_every_socket(joined, settle, room, deleter):
    alice, bob = joined("alice"), joined("bob")
    actor = alice if deleter == "alice" else joined("mod")
    sockets = [alice, bob] if actor is alice else [alice, bob, actor]
    message_id = post(alice, "Delete me", seen_by=sockets)
    starts = [s.mark() for s in sockets]

    line = actor.request(type="delete", message_id=message_id)

    assert line["error"] is False
    marker = settle(room, *sockets)
    for sock, start in zip(sockets, starts):
        frames = sock.since(start)
        assert changed_ids(frames) == [message_id] and new_ids(frames) == [marker]
        html = article(frames, message_id)
        assert REMOVED in html and "Delete me" not in html
    assert stored(room)[0][2:] == ("", False, True)


# Presence ---------------------------------------------------------------------------

def test_presence_counts_people_as_their_sockets_join_and_leave(joined):
    alice = joined("alice")
    alice.wait_presence(1)
    start = alice.mark()
    bob = joined("bob")
    bob.wait_presence(2)
    alice.wait_presence(2, start)
    second_tab = joined("alice", http=alice.http)  # one person in two tabs counts once

    starts = [alice.mark(), second_tab.mark()]
    bob.close()
    alice.wait_presence(1, starts[0])
    second_tab.wait_presence(1, starts[1])

    start = alice.mark()
    visitors = [joined(), joined()]  # each visitor counts
    alice.wait_presence(3, start)

    start = alice.mark()
    for sock in [*visitors, second_tab]:
        sock.close()
    alice.wait_presence(1, start)


# Flood control ----------------------------------------------------------------------

def test_a_sixth_message_in_ten_seconds_is_refused_to_the_sender_only(joined, settle, room,
                                                                      people):
    alice, bob = joined("alice"), joined("bob")
    starts = [alice.mark(), bob.mark()]
    sent = [post(alice, f"Cup number {n}") for n in range(1, 6)]

    line = alice.post("Cup number 6")

    assert line["error"] is True and line["role"] == "alert"
    assert line["text"].startswith("You are sending messages too fast. Wait ")
    assert [row[2] for row in stored(room)] == [f"Cup number {n}" for n in range(1, 6)]
    # The socket still works: an edit goes through and everyone sees it.
    assert alice.request(type="edit", message_id=sent[0], body="Cup number one")["error"] is False
    marker = settle(room, alice, bob)
    assert story(bob.since(starts[1])) == [f"new {[i]}" for i in sent] + [
        f"changed {[sent[0]]}", f"new {[marker]}"]
    alice_frames = alice.since(starts[0])
    assert new_ids(alice_frames) == [*sent, marker]
    assert errors(alice_frames) == [line["text"]]


def test_the_same_text_twice_is_refused(joined, settle, room):
    alice, bob = joined("alice"), joined("bob")
    start = bob.mark()
    first = post(alice, "Same words")

    line = alice.post("Same words")

    assert line["error"] is True and line["text"] == "You sent this a moment ago."
    assert [row[0] for row in stored(room)] == [first]
    marker = settle(room, alice, bob)
    assert story(bob.since(start)) == [f"new {[first]}", f"new {[marker]}"]


def test_a_repeated_client_id_is_stored_and_delivered_once(joined, settle, room):
    alice, bob = joined("alice"), joined("bob")
    starts = [alice.mark(), bob.mark()]
    first = post(alice, "Sent twice by a reconnecting page", client_id="c-1")

    again = alice.post("Sent twice by a reconnecting page", client_id="c-1")

    assert again == {"error": False, "role": "status", "sent": "c-1", "text": ""}
    assert [row[0] for row in stored(room)] == [first]
    marker = settle(room, alice, bob)
    assert new_ids(alice.since(starts[0])) == [first, marker]
    assert story(bob.since(starts[1])) == [f"new {[first]}", f"new {[marker]}"]


# The handshake ----------------------------------------------------------------------

@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:1", "null",
                                    "https://127.0.0.1"])
def test_a_foreign_origin_is_refused_with_403_before_the_upgrade(live_server, room, people,
                                                                 origin):
    http = login(live_server.url, "alice")
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        ChatSocket(live_server.url, room, http, origin=origin)
    assert refused.value.status_code == 403


def test_a_missing_origin_is_refused_with_403(live_server, room, people):
    http = login(live_server.url, "alice")
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        ChatSocket(live_server.url, room, http, suppress_origin=True)
    assert refused.value.status_code == 403
    # The same with a plain HTTP client: no upgrade (101), a 403.
    response = requests.get(socket_url(live_server.url, room).replace("ws://", "http://"),
                            cookies=http.cookies, timeout=WAIT,
                            headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                     "Sec-WebSocket-Version": "13",
                                     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert response.status_code == 403


def test_an_unknown_room_is_404(live_server, room, people):
    http = login(live_server.url, "alice")
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        ChatSocket(live_server.url, room + 1000, http)
    assert refused.value.status_code == 404


# Who may post -----------------------------------------------------------------------

def test_a_visitor_watches_but_may_not_post(joined, settle, room):
    visitor, bob = joined(), joined("bob")
    starts = [visitor.mark(), bob.mark()]
    message_id = post(bob, "Visitors can read this")
    visitor.wait_message(message_id, starts[0])

    line = visitor.post("Let me in")

    assert line["error"] is True and line["role"] == "alert" and line["text"] == "Log in to post."
    assert [row[0] for row in stored(room)] == [message_id]
    marker = settle(room, visitor, bob)
    assert story(bob.since(starts[1])) == ["ok", f"new {[message_id]}", f"new {[marker]}"]
    assert new_ids(visitor.since(starts[0])) == [message_id, marker]
    assert 'class="msg-actions"' not in article(visitor.since(starts[0]), message_id)
    assert 'class="msg-actions"' in article(bob.since(starts[1]), message_id)


def _end_by_logging_out(sock, person):
    # The same cookies as the socket's; the live server's test config has CSRF off.
    response = sock.http.post(f"{sock.base_url}/auth/logout", allow_redirects=False,
                              timeout=WAIT)
    assert response.status_code == 303


def _end_by_deleting_the_row(sock, person):
    db.session.execute(delete(UserSession).where(UserSession.user_id == person.id))
    db.session.commit()


@pytest.mark.parametrize("end", [_end_by_logging_out, _end_by_deleting_the_row],
                         ids=["logged-out", "session-row-deleted"])
def test_a_session_ended_mid_connection_refuses_the_next_post(joined, settle, room, people,
                                                              end):
    alice, bob = joined("alice"), joined("bob")
    first = post(alice, "Still logged in", seen_by=(alice, bob))
    start = bob.mark()

    end(alice, people["alice"])
    line = alice.post("Logged out already")

    assert line["error"] is True
    assert line["text"] == "Your session has ended. Log in again to post."
    assert [row[0] for row in stored(room)] == [first]
    # The socket still reads; it no longer offers actions.
    later = post(bob, "Anyone there?")
    assert 'class="msg-actions"' not in article([alice.wait_message(later)], later)
    marker = settle(room, alice, bob)
    assert story(bob.since(start)) == ["ok", f"new {[later]}", f"new {[marker]}"]


# Bad frames -------------------------------------------------------------------------

def _json(**payload):
    return lambda ctx: ("text", json.dumps({k: v(ctx) if callable(v) else v
                                             for k, v in payload.items()}))


BAD_FRAMES = {
    "oversized": (lambda ctx: ("text", json.dumps({"type": "post", "body": "x" * 17_000})),
                  "That is too long to send."),
    "not-json": (lambda ctx: ("text", '{"type": "post", "body": '), NOT_UNDERSTOOD),
    "json-list": (lambda ctx: ("text", '[{"type": "post", "body": "hi"}]'), NOT_UNDERSTOOD),
    "json-string": (lambda ctx: ("text", '"post"'), NOT_UNDERSTOOD),
    "unknown-type": (_json(type="shout", body="hi"), NOT_UNDERSTOOD),
    "no-type": (_json(body="hi"), NOT_UNDERSTOOD),
    "binary": (lambda ctx: ("binary", b'{"type": "post", "body": "hi"}'), NOT_UNDERSTOOD),
    "post-for-another-room": (_json(type="post", body="hi", room_id=lambda c: c["other_room"]),
                              OTHER_ROOM),
    "reply-to-abc": (_json(type="post", body="hi", reply_to="abc"), NOT_UNDERSTOOD),
    "reply-to-2**40": (_json(type="post", body="hi", reply_to=2**40), NOT_UNDERSTOOD),
    "reply-to-negative": (_json(type="post", body="hi", reply_to=-1), NOT_UNDERSTOOD),
    "reply-in-another-room": (_json(type="post", body="hi", reply_to=lambda c: c["elsewhere"]),
                              "You can only reply to a message in this room."),
    "edit-id-abc": (_json(type="edit", message_id="abc", body="changed"), NOT_UNDERSTOOD),
    "edit-id-true": (_json(type="edit", message_id=True, body="changed"), NOT_UNDERSTOOD),
    "edit-in-another-room": (_json(type="edit", message_id=lambda c: c["elsewhere"],
                                   body="changed"), OTHER_ROOM),
    "edit-body-not-a-string": (_json(type="edit", message_id=lambda c: c["own"], body=5),
                               "Write a message."),
    "delete-id-2**40": (_json(type="delete", message_id=2**40), NOT_UNDERSTOOD),
    "delete-without-id": (_json(type="delete"), NOT_UNDERSTOOD),
    "resume-last-id-abc": (_json(type="resume", last_id="abc"), NOT_UNDERSTOOD),
    "body-number": (_json(type="post", body=42), "Write a message."),
    "body-list": (_json(type="post", body=["hi"]), "Write a message."),
    "body-missing": (_json(type="post"), "Write a message."),
    "client-id-too-long": (_json(type="post", body="hi", client_id="c" * 65), NOT_UNDERSTOOD),
}


@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_a_bad_frame_is_refused_to_its_client_only_and_the_socket_keeps_working(
        joined, settle, room, other_room, people, case):
    elsewhere = chat.post_message(other_room, people["carol"].id, "In another room").id
    alice, bob = joined("alice"), joined("bob")
    own = post(alice, "My first message", seen_by=(alice, bob))
    before, starts = stored(), [alice.mark(), bob.mark()]
    make, expected = BAD_FRAMES[case]
    kind, data = make({"other_room": other_room, "elsewhere": elsewhere, "own": own})

    if kind == "binary":
        alice.send_binary(data)
    else:
        alice.send_text(data)

    line = alice.next_status(starts[0])
    assert line["error"] is True and line["role"] == "alert" and line["text"] == expected
    assert stored() == before
    after = post(alice, "Still working")
    marker = settle(room, alice, bob)
    assert story(bob.since(starts[1])) == [f"new {[after]}", f"new {[marker]}"]
    alice_frames = alice.since(starts[0])
    assert errors(alice_frames) == [expected]
    assert new_ids(alice_frames) == [after, marker]


def test_a_database_failure_on_a_post_is_an_error_to_its_client_and_the_socket_goes_on(
        joined, settle, room, monkeypatch):
    alice, bob = joined("alice"), joined("bob")
    before, starts = stored(), [alice.mark(), bob.mark()]
    real_post = chat.post_message

    def database_away(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("the database went away"))

    monkeypatch.setattr(chat, "post_message", database_away)
    line = alice.post("Into the void")
    assert line["error"] is True and line["role"] == "alert"
    assert line["text"] == "An unexpected error happened on our side. It has been logged."
    assert stored() == before
    monkeypatch.setattr(chat, "post_message", real_post)
    after = post(alice, "Back again")
    marker = settle(room, alice, bob)
    assert story(bob.since(starts[1])) == [f"new {[after]}", f"new {[marker]}"]


# Catching up ------------------------------------------------------------------------

def test_a_reconnecting_client_gets_what_it_missed_once_and_in_order(joined, settle, room,
                                                                     people):
    alice, bob = joined("alice"), joined("bob")
    first, second = post(bob, "Before the tunnel"), post(bob, "Also before")
    alice.wait_message(second)
    last_sync = [synced_at(f) for f in alice.since() if synced_at(f)][-1]
    alice.close()

    assert bob.request(type="edit", message_id=first, body="Edited in the tunnel")["error"] is False
    assert bob.request(type="delete", message_id=second)["error"] is False
    missed = [post(bob, "While you were away"), post(bob, "And this too")]
    missed.append(chat.post_message(room, people["carol"].id, "Carol too").id)

    back = joined("alice", http=alice.http, resume=False)
    start = back.mark()
    back.resume(second, last_sync)

    catch_up = back.since(start)
    assert story(catch_up) == [f"new {missed} changed {[first, second]}", "sync"]
    assert "Edited in the tunnel" in article(catch_up, first)
    assert REMOVED in article(catch_up, second)
    marker = settle(room, back, bob)
    assert new_ids(back.since(start)) == [*missed, marker]
    assert changed_ids(back.since(start)) == [first, second]


def test_a_client_too_far_behind_gets_the_latest_messages_as_a_new_list(joined, settle, room,
                                                                         people):
    # More than CATCH_UP_MAX (200) missed, stored directly (nobody is listening).
    db.session.add_all(Message(room_id=room, user_id=people["bob"].id, body=f"Backlog {n}")
                       for n in range(201))
    db.session.commit()
    latest_50 = [row[0] for row in stored(room)][-50:]
    alice = joined("alice", resume=False)

    alice.resume(0)

    assert story(alice.since()) == [f"list {latest_50}", "sync"]
    marker = settle(room, alice)
    assert story(alice.since()) == [f"list {latest_50}", "sync", f"new {[marker]}"]


def test_a_message_posted_between_connect_and_resume_arrives_once(joined, settle, room,
                                                                  people):
    bob = joined("bob")
    alice = joined("alice", resume=False)
    alice.wait_for(lambda f: presence(f) is not None)  # the hub has subscribed it
    before, bob_start = chat.latest_id(room), bob.mark()
    message_id = chat.post_message(room, people["carol"].id, "Between connect and resume").id
    # Once bob has it live, the broker has queued it for alice too (held until she resumes).
    bob.wait_message(message_id, bob_start)

    alice.resume(before)

    marker = settle(room, alice, bob)
    assert new_ids(alice.since()) == [message_id, marker]
    assert new_ids(bob.since(bob_start)) == [message_id, marker]


# Real web processes (gunicorn, gevent) ----------------------------------------------

def test_a_restart_closes_sockets_with_1012_and_the_client_catches_up(
        gunicorn_env, start_gunicorn, open_socket, room, people):
    port = _free_port()
    server = start_gunicorn(port, gunicorn_env)
    http = login(server.url, "alice")
    alice = open_socket(server.url, room, http)
    alice.resume(0)
    seen = post(alice, "Before the restart", seen_by=(alice,))
    last_sync = [synced_at(f) for f in alice.since() if synced_at(f)][-1]

    assert server.stop() == 0
    assert alice.wait_closed() == 1012
    missed = [chat.post_message(room, people[name].id, f"While it was down ({n})").id
              for n, name in enumerate(("bob", "carol", "bob"))]
    server = start_gunicorn(port, gunicorn_env)
    back = open_socket(server.url, room, http)
    back.resume(seen, last_sync)

    assert story(back.since()) == [f"new {missed}", "sync"]
    after = post(back, "After the restart", seen_by=(back,))
    assert new_ids(back.since()) == [*missed, after]


def test_two_web_processes_share_messages_and_presence_over_redis(
        redis_env, start_gunicorn, open_socket, room, people):
    one, two = start_gunicorn(_free_port(), redis_env), start_gunicorn(_free_port(), redis_env)
    alice = open_socket(one.url, room, login(one.url, "alice"))
    alice.resume(0)
    alice.wait_presence(1)
    start = alice.mark()
    bob = open_socket(two.url, room, login(two.url, "bob"))
    bob.resume(0)

    bob.wait_presence(2)
    alice.wait_presence(2, start)
    from_two = post(bob, "Posted on process two", seen_by=(alice,))
    from_one = post(alice, "Answered on process one", seen_by=(alice, bob))

    assert new_ids(alice.since()) == [from_two, from_one]
    assert new_ids(bob.since()) == [from_two, from_one]
    start = alice.mark()
    bob.close()
    alice.wait_presence(1, start)


def test_a_stalled_client_delays_no_other_socket_and_then_gets_every_frame_whole(
        gunicorn_env, start_gunicorn, open_socket, room, other_room, people):
    # Over CATCH_UP_MAX messages: each resume from 0 answers with the latest 50 anew,
    # about 170 KB; 120 of them (20 MB) are far more than the socket buffers hold
    # (Linux grows a send buffer to 4 MB by default), so that the stalled client's
    # handler waits on a send until the client reads again (well within STALL_SECONDS).
    db.session.add_all(Message(room_id=room, user_id=people["carol"].id,
                               body=f"{n} " + "backlog " * 248) for n in range(201))
    db.session.commit()
    server = start_gunicorn(_free_port(), gunicorn_env)
    stalled = open_socket(server.url, room, login(server.url, "alice"), reading=False,
                          sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    for _ in range(120):
        stalled.send(type="resume", last_id=0)
    stalled.send(type="post", body="Queued behind the stall", client_id="stuck", room_id=room)
    reader = open_socket(server.url, room, login(server.url, "mod"))
    reader.resume(chat.latest_id(room))
    bob = open_socket(server.url, other_room, login(server.url, "bob"))
    carol = open_socket(server.url, other_room, login(server.url, "carol"))
    for sock in (bob, carol):
        sock.resume(0)

    # The stalled room's events and the other room's both go through on time.
    in_stalled_room = post(reader, "Into the stalled room", seen_by=(reader,))
    elsewhere = post(bob, "This room does not wait", seen_by=(bob, carol))

    assert by_client_id("stuck") is None  # the stalled handler is still sending
    assert new_ids(carol.since()) == [elsewhere] and new_ids(reader.since()) == [in_stalled_room]
    stalled.start_reading()
    stalled.wait_for(lambda f: (status(f) or {}).get("sent") == "stuck", timeout=60)
    assert by_client_id("stuck") is not None
    # Every frame arrived whole (a cut one fails the client's reading, and its socket):
    # the latest 50 before the message posted meanwhile, then with it.
    backlog = [row[0] for row in stored(room) if row[1] == people["carol"].id]
    before, after = f"list {backlog[-50:]}", f"list {[*backlog[-49:], in_stalled_room]}"
    lists = [line for line in story(stalled.since()) if line.startswith("list")]
    assert 0 < lists.count(before) < 120
    assert lists == [before] * lists.count(before) + [after] * (120 - lists.count(before))


def test_a_socket_past_descriptor_1023_is_written_to():
    """A process holding a thousand sockets has descriptors past 1023, which select()
    refuses (ValueError): the whole-frame sender must not use it."""
    import resource

    from webapp.chat.live import WholeFrames

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 2048), hard), hard))
    filler = []
    try:
        while True:
            filler.append(os.dup(0))
            if filler[-1] > 1100:
                break
        left, right = socket.socketpair()
        assert left.fileno() > 1023
        with left, right:
            assert WholeFrames(left).send(b"x" * 1000) == 1000
            assert right.recv(2000) == b"x" * 1000
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
