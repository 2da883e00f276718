"""Chat pages over HTTP, in both renders: the room list, a room, older messages, the
discussion under a coffee, posting without JavaScript, editing and deleting.

The socket itself is tested against running servers in tests/test_chat_socket.py.
"""
import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.conftest import HX, PASSWORD
from webapp.extensions import db
from webapp.models import Message, Room, RoomRead
from webapp.models.base import utcnow
from webapp.services import chat


@pytest.fixture
def general(topic_rooms):
    return topic_rooms["general"]


@pytest.fixture
def bob(make_user):
    return make_user("bob", display_name="Bob")


def login(client, name):
    response = client.post("/auth/login", data={"login": name, "password": PASSWORD})
    assert response.status_code == 303


def count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Message))


def add(room_id, user_id, n, body="message {i}"):
    rows = [Message(room_id=room_id, user_id=user_id, body=body.format(i=i)) for i in range(n)]
    db.session.add_all(rows)
    db.session.commit()
    return [r.id for r in rows]


def published(app, room_id: int, n: int, action) -> list[dict]:
    """What the broker carried on the room's channel while ``action()`` ran (waiting
    up to 5 s for ``n`` payloads)."""
    heard = []
    subscription = app.extensions["broker"].subscribe(f"room:{room_id}", heard.append)
    try:
        action()
        deadline = time.monotonic() + 5
        while len(heard) < n and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        subscription.close()
    return heard


def message_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<article id="msg-(\d+)"', html)]


class TestRoomList:
    def test_lists_topic_rooms_and_coffee_rooms_with_their_last_message(
            self, client, general, bob, make_coffee):
        coffee = make_coffee("Kochere")
        room = chat.room_for_coffee(coffee.id)
        chat.post_message(general.id, bob.id, "First in general")
        chat.post_message(general.id, bob.id, "Latest in general")
        chat.post_message(room.id, bob.id, "About the Kochere")
        html = client.get("/chat").text
        assert "General" in html and "Brewing" in html and "Gear" in html
        assert "Latest in general" in html and "First in general" not in html
        assert "Kochere" in html and "About the Kochere" in html
        assert f'href="/chat/{room.id}"' in html

    def test_counts_unread_messages_of_others_for_a_user(self, client, general, bob, make_user):
        make_user("alice")
        add(general.id, bob.id, 3)
        login(client, "alice")
        assert "3 unread" in client.get("/chat").text
        client.get(f"/chat/{general.id}")  # reading the room moves the mark
        assert "unread" not in client.get("/chat").text

    def test_a_visitor_sees_no_unread_counts(self, client, general, bob):
        add(general.id, bob.id, 2)
        assert "unread" not in client.get("/chat").text

    def test_htmx_gets_the_fragment(self, client, general):
        html = client.get("/chat", headers=HX).text
        assert 'id="chat-index"' in html and "<html" not in html

    def test_russian(self, client, general):
        html = client.get("/chat", headers={"Accept-Language": "ru"}).text
        assert "Чат" in html and "Общ" in html


class TestRoom:
    def test_shows_the_latest_50_oldest_first_with_a_link_to_older(self, client, general, bob):
        ids = add(general.id, bob.id, 60)
        html = client.get(f"/chat/{general.id}").text
        assert message_ids(html) == ids[-50:]
        assert f'/chat/{general.id}/older?before={ids[10]}' in html
        assert f'ws-connect="/chat/{general.id}/ws"' in html

    def test_the_first_page_says_where_the_conversation_starts(self, client, general, bob):
        add(general.id, bob.id, 3)
        html = client.get(f"/chat/{general.id}").text
        assert "The start of the conversation" in html and "/older?" not in html

    def test_older_messages_as_a_fragment_for_htmx(self, client, general, bob):
        ids = add(general.id, bob.id, 120)
        html = client.get(f"/chat/{general.id}/older?before={ids[70]}", headers=HX).text
        assert message_ids(html) == ids[20:70]
        assert f'hx-swap-oob="afterbegin:#messages-{general.id}"' in html
        assert f"before={ids[20]}" in html  # the link to the page before that
        assert "<html" not in html

    def test_older_messages_without_htmx_is_the_archive_page(self, client, general, bob):
        ids = add(general.id, bob.id, 70)
        response = client.get(f"/chat/{general.id}/older?before={ids[60]}")
        assert response.status_code == 302
        html = client.get(response.headers["Location"]).text
        assert message_ids(html) == ids[10:60]
        assert "Back to the latest" in html and "ws-connect" not in html

    def test_older_without_before_is_404(self, client, general):
        assert client.get(f"/chat/{general.id}/older", headers=HX).status_code == 404

    @pytest.mark.parametrize("url", ["/chat/999999", "/chat/99999999999999", "/chat/999999/older?before=5"])
    def test_unknown_room_is_404(self, client, general, url):
        assert client.get(url).status_code == 404
        assert client.get(url, headers=HX).status_code == 404

    def test_a_visitor_is_asked_to_log_in_instead_of_a_composer(self, client, general):
        html = client.get(f"/chat/{general.id}").text
        assert 'id="composer-' not in html
        assert "Log in to join the conversation." in html

    def test_a_user_gets_the_composer_sending_over_the_socket_or_posting(
            self, client, general, bob):
        login(client, "bob")
        html = client.get(f"/chat/{general.id}").text
        form = re.search(r'<form id="composer-\d+"[^>]*>', html).group()
        assert f'action="/chat/{general.id}/messages"' in form and 'method="post"' in form
        assert "ws-send" in form and 'hx-boost="false"' in form

    def test_reply_to_opens_the_composer_on_that_message(self, client, general, bob):
        (target,) = add(general.id, bob.id, 1, body="What grinder do you use?")
        login(client, "bob")
        html = client.get(f"/chat/{general.id}?reply_to={target}").text
        assert f'name="reply_to" id="reply-to-{general.id}" value="{target}"' in html
        assert "Replying to Bob: What grinder do you use?" in html

    def test_reply_to_a_message_of_another_room_is_ignored(self, client, general, topic_rooms, bob):
        (elsewhere,) = add(topic_rooms["gear"].id, bob.id, 1)
        login(client, "bob")
        html = client.get(f"/chat/{general.id}?reply_to={elsewhere}").text
        assert f'id="reply-to-{general.id}" value=""' in html

    def test_the_composer_and_the_messages_in_russian(self, client, general, bob):
        add(general.id, bob.id, 1)
        login(client, "bob")
        html = client.get(f"/chat/{general.id}", headers={"Accept-Language": "ru"}).text
        assert "Ваше сообщение" in html and "Ответить" in html


class TestMessageMarkup:
    def test_text_is_escaped_and_line_breaks_kept(self, client, general, bob):
        chat.post_message(general.id, bob.id, "<script>alert(1)</script>\nsecond line")
        html = client.get(f"/chat/{general.id}").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;\nsecond line" in html
        assert "<script>alert(1)" not in html

    def test_links_are_clickable_and_safe(self, client, general, bob):
        chat.post_message(general.id, bob.id, "See https://example.com/brew?x=1&y=2.")
        html = client.get(f"/chat/{general.id}").text
        assert ('<a href="https://example.com/brew?x=1&amp;y=2" rel="nofollow noopener ugc" '
                'target="_blank">https://example.com/brew?x=1&amp;y=2</a>.') in html

    def test_a_javascript_address_is_no_link(self, client, general, bob):
        chat.post_message(general.id, bob.id, "javascript:alert(1) and data:text/html,x")
        html = client.get(f"/chat/{general.id}").text
        assert 'href="javascript' not in html and 'href="data' not in html

    def test_mentions_of_real_users_link_to_their_profile(self, client, general, bob, make_user):
        make_user("carol")
        chat.post_message(general.id, bob.id, "@carol and @nobody_here, mail me at bob@example.com")
        html = client.get(f"/chat/{general.id}").text
        assert '<a class="mention" href="/users/carol">@carol</a>' in html
        assert "@nobody_here" in html and 'href="/users/nobody_here"' not in html
        assert "bob@example.com" in html and 'href="/users/example' not in html

    def test_a_reply_quotes_the_original_and_links_to_it(self, client, general, bob, make_user):
        carol = make_user("carol")
        original = chat.post_message(general.id, carol.id, "Which water do you brew with?")
        chat.post_message(general.id, bob.id, "Third Wave Water", reply_to_id=original.id)
        html = client.get(f"/chat/{general.id}").text
        quote = re.search(r'<blockquote class="msg-quote">.*?</blockquote>', html, re.S).group()
        assert f'href="/chat/{general.id}?before={original.id + 1}#msg-{original.id}"' in quote
        assert "Reply to carol" in quote and "Which water do you brew with?" in quote

    def test_a_deleted_message_shows_as_removed(self, client, general, bob):
        message = chat.post_message(general.id, bob.id, "Oops, wrong room")
        chat.delete_message(message.id, bob.id)
        html = client.get(f"/chat/{general.id}").text
        assert "This message was removed." in html and "Oops" not in html

    def test_own_messages_offer_edit_and_delete_others_only_reply(self, client, general, bob,
                                                                   make_user):
        carol = make_user("carol")
        mine = chat.post_message(general.id, bob.id, "Mine")
        theirs = chat.post_message(general.id, carol.id, "Theirs")
        login(client, "bob")
        html = client.get(f"/chat/{general.id}").text
        assert f"/chat/messages/{mine.id}/edit" in html and f"/chat/messages/{mine.id}/delete" in html
        assert f"/chat/messages/{theirs.id}/edit" not in html
        assert f"/chat/messages/{theirs.id}/delete" not in html
        assert f"reply_to={theirs.id}" in html

    def test_moderators_may_delete_any_message(self, client, general, bob, make_user):
        make_user("mod", role="moderator")
        theirs = chat.post_message(general.id, bob.id, "Spam")
        login(client, "mod")
        html = client.get(f"/chat/{general.id}").text
        assert f"/chat/messages/{theirs.id}/delete" in html
        assert f"/chat/messages/{theirs.id}/edit" not in html

    def test_no_edit_link_after_15_minutes(self, client, general, bob):
        mine = chat.post_message(general.id, bob.id, "Old news")
        db.session.execute(update(Message).where(Message.id == mine.id)
                           .values(created_at=utcnow() - timedelta(minutes=16)))
        db.session.commit()
        login(client, "bob")
        assert f"/chat/messages/{mine.id}/edit" not in client.get(f"/chat/{general.id}").text


class TestPostWithoutJavaScript:
    def test_posts_and_goes_back_to_the_room_showing_the_message(self, client, general, bob):
        login(client, "bob")
        response = client.post(f"/chat/{general.id}/messages", data={"body": "  Hello, room!  "})
        assert response.status_code == 303
        message = db.session.scalar(select(Message))
        assert message.body == "  Hello, room!"
        assert response.headers["Location"] == f"/chat/{general.id}#msg-{message.id}"
        assert "Hello, room!" in client.get(response.headers["Location"]).text

    def test_from_a_coffee_page_goes_back_to_the_coffee(self, client, bob, make_coffee):
        coffee = make_coffee("Kochere")
        room = chat.room_for_coffee(coffee.id)
        login(client, "bob")
        response = client.post(f"/chat/{room.id}/messages", data={"body": "Lovely", "from": "coffee"})
        assert response.status_code == 303
        assert response.headers["Location"].startswith(f"/coffees/{coffee.id}#msg-")
        assert "Lovely" in client.get(f"/coffees/{coffee.id}").text

    def test_a_reply(self, client, general, bob):
        (target,) = add(general.id, bob.id, 1)
        login(client, "bob")
        response = client.post(f"/chat/{general.id}/messages",
                               data={"body": "Agreed", "reply_to": str(target)})
        assert response.status_code == 303
        assert db.session.scalar(select(Message).where(Message.body == "Agreed")).reply_to_id == target

    @pytest.mark.parametrize("body, error", [
        ("   \n  ", "Write a message."),
        ("\u200b\u200b", "Write a message."),
        ("x" * 2001, "At most 2000 characters."),
    ])
    def test_an_invalid_message_is_refused_with_the_text_kept(self, client, general, bob,
                                                              body, error):
        login(client, "bob")
        for headers in ({}, HX):
            response = client.post(f"/chat/{general.id}/messages", data={"body": body},
                                   headers=headers)
            assert response.status_code == 422
            assert error in response.text
            assert 'aria-invalid="true"' in response.text
        assert count() == 0

    @pytest.mark.parametrize("reply_to", ["abc", "99999", "-1", "1" * 30])
    def test_a_bad_reply_target_is_refused(self, client, general, bob, reply_to):
        login(client, "bob")
        response = client.post(f"/chat/{general.id}/messages",
                               data={"body": "Hi", "reply_to": reply_to})
        assert response.status_code == 422
        assert "You can only reply to a message in this room." in response.text
        assert count() == 0

    def test_a_refusal_from_a_coffee_page_shows_the_coffee_page(self, client, bob, make_coffee):
        coffee = make_coffee("Kochere")
        room = chat.room_for_coffee(coffee.id)
        login(client, "bob")
        response = client.post(f"/chat/{room.id}/messages", data={"body": " ", "from": "coffee"})
        assert response.status_code == 422
        assert "Kochere" in response.text and "Write a message." in response.text
        assert 'id="reviews"' in response.text

    def test_a_flood_is_refused_with_429_and_nothing_stored(self, app, client, general, bob):
        login(client, "bob")
        for i in range(5):
            assert client.post(f"/chat/{general.id}/messages",
                               data={"body": f"message {i}"}).status_code == 303
        response = client.post(f"/chat/{general.id}/messages", data={"body": "one more"})
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) >= 1
        assert "You are sending messages too fast." in response.text
        assert "one more" in response.text  # kept in the composer
        assert count() == 5

    def test_the_same_text_twice_is_refused(self, client, general, bob):
        login(client, "bob")
        assert client.post(f"/chat/{general.id}/messages", data={"body": "Hello"}).status_code == 303
        response = client.post(f"/chat/{general.id}/messages", data={"body": "Hello"})
        assert response.status_code == 429 and "You sent this a moment ago." in response.text
        assert count() == 1

    def test_an_unknown_room_is_404(self, client, bob):
        login(client, "bob")
        assert client.post("/chat/424242/messages", data={"body": "Hi"}).status_code == 404
        assert count() == 0

    def test_a_post_is_published_on_the_room_channel_after_the_commit(self, app, client,
                                                                      general, bob):
        login(client, "bob")
        heard = published(app, general.id, 1, lambda: client.post(
            f"/chat/{general.id}/messages", data={"body": "Published"}))
        message_id = db.session.scalar(select(Message.id))
        assert heard == [{"type": "message", "room_id": general.id, "message_id": message_id}]


class TestEditAndDelete:
    @pytest.fixture
    def mine(self, general, bob, client):
        message = chat.post_message(general.id, bob.id, "Frist post")
        login(client, "bob")
        return message

    def test_the_edit_form_without_javascript(self, client, mine):
        html = client.get(f"/chat/messages/{mine.id}/edit").text
        assert "<html" in html and "Frist post</textarea>" in html

    def test_the_edit_form_for_htmx_replaces_the_message(self, client, mine):
        html = client.get(f"/chat/messages/{mine.id}/edit", headers=HX).text
        assert html.lstrip().startswith(f'<form id="msg-{mine.id}"') and "<html" not in html

    def test_editing_without_javascript(self, client, general, mine):
        response = client.post(f"/chat/messages/{mine.id}/edit", data={"body": "First post"})
        assert response.status_code == 303
        assert response.headers["Location"] == f"/chat/{general.id}?before={mine.id + 1}#msg-{mine.id}"
        html = client.get(response.headers["Location"]).text
        assert "First post" in html and "edited" in html

    def test_editing_with_htmx_answers_the_message(self, client, mine):
        response = client.post(f"/chat/messages/{mine.id}/edit", data={"body": "First post"},
                               headers=HX)
        assert response.status_code == 200
        assert response.text.lstrip().startswith(f'<article id="msg-{mine.id}"')
        assert "First post" in response.text

    def test_an_invalid_edit_keeps_the_form_and_the_message(self, client, mine):
        response = client.post(f"/chat/messages/{mine.id}/edit", data={"body": " "}, headers=HX)
        assert response.status_code == 422 and "Write a message." in response.text
        db.session.expire_all()
        assert db.session.get(Message, mine.id).body == "Frist post"

    def test_too_late_to_edit(self, client, mine):
        db.session.execute(update(Message).where(Message.id == mine.id)
                           .values(created_at=utcnow() - timedelta(minutes=16)))
        db.session.commit()
        response = client.post(f"/chat/messages/{mine.id}/edit", data={"body": "Changed"})
        assert response.status_code == 422
        assert "A message can be edited for 15 minutes after posting." in response.text
        db.session.expire_all()
        assert db.session.get(Message, mine.id).body == "Frist post"

    def test_cancelling_an_edit_gets_the_message_back(self, client, general, mine):
        assert client.get(f"/chat/messages/{mine.id}", headers=HX).text.lstrip().startswith(
            f'<article id="msg-{mine.id}"')
        response = client.get(f"/chat/messages/{mine.id}")
        assert response.status_code == 302
        assert response.headers["Location"] == f"/chat/{general.id}?before={mine.id + 1}#msg-{mine.id}"

    def test_an_unknown_message_is_404(self, client, mine):
        for url in ("/chat/messages/999999", "/chat/messages/999999/edit"):
            assert client.get(url).status_code == 404
        assert client.post("/chat/messages/999999/delete").status_code == 404

    def test_deleting_without_javascript(self, client, general, mine):
        response = client.post(f"/chat/messages/{mine.id}/delete")
        assert response.status_code == 303
        html = client.get(response.headers["Location"]).text
        assert "This message was removed." in html and "Frist post" not in html

    def test_deleting_with_htmx_answers_the_removed_message(self, client, mine):
        response = client.post(f"/chat/messages/{mine.id}/delete", headers=HX)
        assert response.status_code == 200
        assert "This message was removed." in response.text
        db.session.expire_all()
        assert db.session.get(Message, mine.id).deleted_at is not None

    def test_edit_and_delete_are_published(self, app, client, general, mine):
        def edit_then_delete():
            client.post(f"/chat/messages/{mine.id}/edit", data={"body": "First post"})
            client.post(f"/chat/messages/{mine.id}/delete")
        heard = published(app, general.id, 2, edit_then_delete)
        assert [h["type"] for h in heard] == ["message_edited", "message_deleted"]


class TestCoffeeDiscussion:
    def test_the_coffee_page_shows_its_live_room(self, client, bob, make_coffee):
        coffee = make_coffee("Kochere")
        html = client.get(f"/coffees/{coffee.id}").text
        room = chat.room_for_coffee(coffee.id)
        assert f'id="room-{room.id}"' in html and f"/chat/{room.id}/ws" in html
        assert 'id="discussion-title"' in html

    def test_it_shows_the_latest_messages(self, client, bob, make_coffee):
        coffee = make_coffee("Kochere")
        room = chat.room_for_coffee(coffee.id)
        chat.post_message(room.id, bob.id, "Blueberry bomb")
        assert "Blueberry bomb" in client.get(f"/coffees/{coffee.id}").text

    def test_one_room_per_coffee_however_often_it_is_viewed(self, client, make_coffee):
        coffee = make_coffee("Kochere")
        client.get(f"/coffees/{coffee.id}")
        client.get(f"/coffees/{coffee.id}")
        assert db.session.scalar(select(func.count()).select_from(Room)
                                 .where(Room.coffee_id == coffee.id)) == 1

    def test_the_reviews_fragments_leave_the_discussion_out(self, client, make_coffee):
        coffee = make_coffee("Kochere")
        html = client.get(f"/coffees/{coffee.id}/reviews", headers=HX).text
        assert "chat-room" not in html

    def test_reading_the_coffee_page_marks_the_room_read(self, client, bob, make_user, make_coffee):
        make_user("alice")
        coffee = make_coffee("Kochere")
        room = chat.room_for_coffee(coffee.id)
        last = chat.post_message(room.id, bob.id, "Anyone tried it as espresso?")
        login(client, "alice")
        client.get(f"/coffees/{coffee.id}")
        assert db.session.scalar(select(RoomRead.last_read_message_id)) == last.id


class TestHandshake:
    """What the socket route answers before upgrading (the upgrade itself is tested
    against running servers in tests/test_chat_socket.py)."""

    UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}

    def test_a_foreign_origin_is_refused(self, client, general):
        response = client.get(f"/chat/{general.id}/ws",
                              headers={**self.UPGRADE, "Origin": "https://evil.example"})
        assert response.status_code == 403

    def test_an_unknown_room_is_404(self, client, general):
        response = client.get("/chat/999999/ws", headers={**self.UPGRADE, "Origin": "http://localhost"})
        assert response.status_code == 404

    def test_a_full_process_answers_503_and_the_page_retries(self, app, client, general):
        from webapp.chat.hub import Member, get_hub

        app.config["CHAT_MAX_SOCKETS"] = 1
        hub = get_hub(app)
        member = Member(general.id, "u1")
        hub.join(member)
        try:
            response = client.get(f"/chat/{general.id}/ws",
                                  headers={**self.UPGRADE, "Origin": "http://localhost"})
            assert response.status_code == 503 and response.headers["Retry-After"] == "5"
            assert client.get(f"/chat/{general.id}").status_code == 200  # pages still served
        finally:
            hub.leave(member)
