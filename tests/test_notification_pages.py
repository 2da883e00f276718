"""The bell and /notifications, in both renders (the embedded set-up: jobs run at once)."""
import re

import pytest
from sqlalchemy import select

from tests.conftest import HX, PASSWORD
from tests.fixtures.embedded import embedded_app  # noqa: F401 (this module's app)
from webapp.extensions import db
from webapp.models import Notification
from webapp.services import chat, follows, notifications
from webapp.services import reviews as review_service


@pytest.fixture
def people(make_user):
    return {name: make_user(name, display_name=name.capitalize()) for name in ("ana", "bob")}


@pytest.fixture
def general(topic_rooms):
    return topic_rooms["general"]


def login(client, name):
    assert client.post("/auth/login", data={"login": name, "password": PASSWORD}).status_code == 303


def bell_count(html: str) -> int | None:
    found = re.search(r'<span class="badge">(\d+)<', html)
    return int(found.group(1)) if found else None


def test_the_bell_shows_the_unread_count(client, general, people):
    chat.post_message(general.id, people["ana"].id, "@bob look at this")
    chat.post_message(general.id, people["ana"].id, "@bob and this")
    login(client, "bob")
    html = client.get("/coffees").text
    assert bell_count(html) == 2  # kept live by its socket: tests/test_notification_socket.py


def test_no_bell_for_a_visitor(client):
    assert 'id="bell"' not in client.get("/").text


def test_the_list_says_what_happened_newest_first(client, general, people, make_coffee):
    ana = people["ana"]
    coffee = make_coffee("Kochere", by=people["bob"])
    original = chat.post_message(general.id, people["bob"].id, "Which grinder?")
    chat.post_message(general.id, ana.id, "A hand one", reply_to_id=original.id)
    chat.post_message(general.id, ana.id, "@bob and you?")
    review_service.save_review(coffee.id, ana.id, 4, "pour-over", [], "")
    login(client, "bob")
    for headers in ({}, HX):
        html = client.get("/notifications", headers=headers).text
        texts = re.findall(r'<li class="notification is-unread">\s*<a href="[^"]+">([^<]+)</a>', html)
        assert texts == ["Ana reviewed Kochere", "Ana mentioned you in General",
                         "Ana replied to you in General"]
    assert "<html" in client.get("/notifications").text


def test_opening_one_marks_it_read_and_lands_on_the_message(client, general, people):
    message = chat.post_message(general.id, people["ana"].id, "@bob here")
    login(client, "bob")
    notification = db.session.scalar(select(Notification))
    response = client.get(f"/notifications/{notification.id}")
    assert response.status_code == 303
    assert response.headers["Location"] == \
        f"/chat/{general.id}?before={message.id + 1}#msg-{message.id}"
    assert notifications.unread_count(people["bob"].id) == 0
    assert bell_count(client.get("/coffees").text) is None


def test_someone_elses_notification_is_404(client, general, people):
    chat.post_message(general.id, people["ana"].id, "@bob here")
    login(client, "ana")
    notification = db.session.scalar(select(Notification))
    assert client.get(f"/notifications/{notification.id}").status_code == 404
    assert notifications.unread_count(people["bob"].id) == 1


def test_mark_all_read(client, general, people):
    chat.post_message(general.id, people["ana"].id, "@bob one")
    chat.post_message(general.id, people["ana"].id, "@bob two")
    login(client, "bob")
    response = client.post("/notifications/read")
    assert response.status_code == 303 and response.headers["Location"] == "/notifications"
    assert notifications.unread_count(people["bob"].id) == 0


def test_chat_activity_reads_as_a_count(client, general, people):
    bob = people["bob"]
    chat.post_message(general.id, bob.id, "Anyone here?")
    for n in range(3):
        chat.post_message(general.id, people["ana"].id, f"Yes, message {n}")
    login(client, "bob")
    html = client.get("/notifications").text
    assert re.search(r"\d new messages? in General", html)


def test_an_empty_list_says_so_in_russian(client, people):
    login(client, "bob")
    html = client.get("/notifications", headers={"Accept-Language": "ru"}).text
    assert "Уведомления" in html


class TestFollow:
    def test_following_a_room_and_stopping(self, client, general, people):
        login(client, "bob")
        assert "Follow the conversation" in client.get(f"/chat/{general.id}").text
        response = client.post(f"/follow/rooms/{general.id}", data={"following": "1"})
        assert response.status_code == 303 and response.headers["Location"] == f"/chat/{general.id}"
        assert follows.following(people["bob"].id, general.id) == (True, False)
        html = client.get(f"/chat/{general.id}").text
        assert 'aria-pressed="true"' in html and "Following the conversation" in html
        fragment = client.post(f"/follow/rooms/{general.id}", data={"following": "0"},
                               headers=HX).text
        assert fragment.lstrip().startswith(f'<form method="post" action="/follow/rooms/{general.id}"')
        assert "Follow the conversation" in fragment and "<html" not in fragment
        assert follows.following(people["bob"].id, general.id) == (False, False)

    def test_following_a_coffees_reviews_from_its_page(self, client, people, make_coffee):
        coffee = make_coffee("Kochere")
        login(client, "bob")
        assert "Follow new reviews" in client.get(f"/coffees/{coffee.id}").text
        response = client.post(f"/follow/coffees/{coffee.id}",
                               data={"following": "1", "next": f"/coffees/{coffee.id}"})
        assert response.headers["Location"] == f"/coffees/{coffee.id}"
        assert "Following new reviews" in client.get(f"/coffees/{coffee.id}").text
        review_service.save_review(coffee.id, people["ana"].id, 4, "pour-over", [], "")
        assert notifications.unread_count(people["bob"].id) == 1

    @pytest.mark.parametrize("url", ["/follow/rooms/999999", "/follow/coffees/999999"])
    def test_an_unknown_target_is_404(self, client, people, url):
        login(client, "bob")
        assert client.post(url, data={"following": "1"}).status_code == 404

    @pytest.mark.parametrize("value", ["", "2", "yes"])
    def test_neither_1_nor_0_is_422(self, client, general, people, value):
        login(client, "bob")
        assert client.post(f"/follow/rooms/{general.id}", data={"following": value}).status_code == 422
        assert follows.following(people["bob"].id, general.id) == (False, False)

    def test_a_visitor_gets_no_follow_button(self, client, general):
        assert "Follow the conversation" not in client.get(f"/chat/{general.id}").text
