"""/settings/notifications and the mute buttons, in both renders (the embedded set-up)."""
import re

import pytest
from sqlalchemy import func, select

from tests.conftest import HX, PASSWORD
from tests.fixtures.embedded import embedded_app  # noqa: F401 (this module's app)
from webapp.extensions import db
from webapp.models import Mute, NotificationPref, User
from webapp.services import chat, follows, notification_prefs

URL = "/settings/notifications"


@pytest.fixture
def bob(make_user, client):
    user = make_user("bob")
    assert client.post("/auth/login", data={"login": "bob", "password": PASSWORD}).status_code == 303
    return user


@pytest.fixture
def general(topic_rooms):
    return topic_rooms["general"]


def ticked(html: str) -> set[str]:
    return set(re.findall(r'name="enabled" value="([^"]+)"[^>]*\schecked', html))


def mode(html: str) -> str:
    """The email mode ticked."""
    [value] = [re.search(r'value="(\w+)"', tag).group(1)
               for tag in re.findall(r'<input[^>]*name="email_mode"[^>]*>', html) if " checked" in tag]
    return value


def saved() -> tuple:
    db.session.expire_all()
    return (db.session.execute(select(NotificationPref.kind, NotificationPref.channel,
                                      NotificationPref.enabled)
                               .order_by(NotificationPref.id)).all(),
            db.session.scalars(select(User.email_digest).order_by(User.id)).all())


class TestPage:
    def test_both_renders_show_the_defaults(self, client, bob):
        page = client.get(URL)
        assert page.status_code == 200 and "<html" in page.text
        assert 'href="/settings/notifications" aria-current="page"' in page.text
        fragment = client.get(URL, headers=HX)
        assert fragment.status_code == 200 and "<html" not in fragment.text
        for html in (page.text, fragment.text):
            assert ticked(html) == {"chat.in_app", "mentions.in_app", "mentions.email",
                                    "reviews.in_app", "reviews.email"}
            assert mode(html) == "immediate"
            assert "telegram" not in html.lower()  # no column until a channel exists
            assert "is not confirmed yet" in html

    def test_linked_from_the_other_settings_pages_and_the_list(self, client, bob):
        for url in ("/settings", "/settings/password", "/settings/sessions", "/notifications"):
            assert 'href="/settings/notifications"' in client.get(url).text, url

    def test_saving(self, client, bob):
        response = client.post(URL, data={"enabled": ["chat.email", "reviews.in_app"],
                                          "email_mode": "digest"})
        assert response.status_code == 303 and response.headers["Location"] == URL
        assert notification_prefs.prefs(bob.id) == {  # no Telegram column: its defaults stay
            "chat": {"in_app": False, "email": True, "telegram": False},
            "mentions": {"in_app": False, "email": False, "telegram": True},
            "reviews": {"in_app": True, "email": False, "telegram": True}}
        page = client.get(URL).text
        assert "Your notification settings have been saved." in page
        assert ticked(page) == {"chat.email", "reviews.in_app"}
        assert mode(page) == "digest"

    def test_an_htmx_save_navigates(self, client, bob):
        response = client.post(URL, data={"email_mode": "immediate"}, headers=HX)
        assert response.status_code == 204 and response.headers["HX-Redirect"] == URL
        assert all(not on[ch] for on in notification_prefs.prefs(bob.id).values()
                   for ch in ("in_app", "email"))

    @pytest.mark.parametrize("data, message", [
        ({"enabled": ["gossip.in_app"], "email_mode": "immediate"}, "does not exist"),
        ({"enabled": ["chat.pigeon"], "email_mode": "immediate"}, "does not exist"),
        ({"enabled": ["chat.telegram"], "email_mode": "immediate"}, "does not exist"),
        ({"enabled": ["chat"], "email_mode": "immediate"}, "does not exist"),
        ({"enabled": ["chat.email"], "email_mode": "weekly"}, "as it happens or as a daily"),
        ({"enabled": ["chat.email"]}, "as it happens or as a daily"),
    ])
    def test_a_broken_form_is_422_and_saves_nothing(self, client, bob, data, message):
        before = saved()
        for headers in ({}, HX):
            response = client.post(URL, data=data, headers=headers)
            assert response.status_code == 422 and message in response.text
            assert ("<html" in response.text) == (headers == {})
        assert saved() == before

    def test_a_refused_form_keeps_what_was_ticked(self, client, bob):
        html = client.post(URL, data={"enabled": ["chat.email"], "email_mode": "x"}).text
        assert ticked(html) == {"chat.email"}


class TestMutes:
    def test_muting_a_room_from_its_page_and_unmuting(self, client, bob, general):
        page = client.get(f"/chat/{general.id}").text
        assert "Mute the conversation" in page and "Follow the conversation" in page
        response = client.post(f"/mute/rooms/{general.id}", data={"muted": "1"})
        assert response.status_code == 303 and response.headers["Location"] == f"/chat/{general.id}"
        assert follows.watching(bob.id, room_id=general.id).muted_room
        assert "Unmute the conversation" in client.get(f"/chat/{general.id}").text
        fragment = client.post(f"/mute/rooms/{general.id}", data={"muted": "0"}, headers=HX).text
        assert fragment.lstrip().startswith(f'<form method="post" action="/mute/rooms/{general.id}"')
        assert "Mute the conversation" in fragment and "<html" not in fragment
        assert not follows.watching(bob.id, room_id=general.id).muted_room

    def test_muting_a_coffee_keeps_its_follow(self, client, bob, make_coffee):
        coffee = make_coffee("Kochere")
        client.post(f"/follow/coffees/{coffee.id}", data={"following": "1"})
        assert "Mute this coffee" in client.get(f"/coffees/{coffee.id}").text
        response = client.post(f"/mute/coffees/{coffee.id}",
                               data={"muted": "1", "next": f"/coffees/{coffee.id}?x=1"})
        assert response.headers["Location"] == f"/coffees/{coffee.id}?x=1"
        assert follows.following(bob.id, coffee_id=coffee.id) == (False, True)
        assert "Unmute this coffee" in client.get(f"/coffees/{coffee.id}").text

    def test_the_follow_buttons_fragment_comes_without_the_mute_button(self, client, bob,
                                                                       general):
        fragment = client.post(f"/follow/rooms/{general.id}", data={"following": "1"},
                               headers=HX).text
        assert "follow-form" in fragment and "mute-form" not in fragment

    def test_the_settings_page_lists_the_mutes_each_to_undo(self, client, bob, general,
                                                            make_coffee):
        coffee = make_coffee("Kochere")
        assert "Nothing is muted" in client.get(URL).text
        follows.mute(bob.id, room_id=general.id)
        follows.mute(bob.id, coffee_id=coffee.id)
        page = client.get(URL).text
        assert f'<a href="/coffees/{coffee.id}">Kochere</a>' in page
        assert f'<a href="/chat/{general.id}">General</a>' in page
        assert 'name="next" value="/settings/notifications"' in page
        response = client.post(f"/mute/coffees/{coffee.id}",
                               data={"muted": "0", "next": "/settings/notifications"})
        assert response.headers["Location"] == URL
        assert "Kochere" not in client.get(URL).text

    @pytest.mark.parametrize("url", ["/mute/rooms/999999", "/mute/coffees/999999"])
    def test_an_unknown_target_is_404(self, client, bob, url):
        assert client.post(url, data={"muted": "1"}).status_code == 404

    @pytest.mark.parametrize("value", ["", "2", "yes", None])
    def test_neither_1_nor_0_is_422(self, client, bob, general, value):
        data = {} if value is None else {"muted": value}
        response = client.post(f"/mute/rooms/{general.id}", data=data)
        assert response.status_code == 422 and "Choose to mute or not." in response.text
        assert db.session.scalar(select(func.count()).select_from(Mute)) == 0

    def test_a_visitor_gets_no_mute_button(self, client, general):
        assert "Mute the conversation" not in client.get(f"/chat/{general.id}").text

    def test_in_russian(self, client, bob, general):
        html = client.get(f"/chat/{general.id}", headers={"Accept-Language": "ru"}).text
        assert "Заглушить разговор" in html
        assert "Настройки уведомлений" in client.get(URL, headers={"Accept-Language": "ru"}).text
