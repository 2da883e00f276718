"""Bad input gets a clear 4xx and changes nothing: control characters, invisible and
unnormalised text, absurd page numbers and ids, files in text fields, non-ASCII ``next``."""
import io
import unicodedata

import pytest
from sqlalchemy import func, select

from tests.conftest import HX, PASSWORD
from webapp import text
from webapp.extensions import db
from webapp.models import Coffee, Review, User
from webapp.services import ServiceError
from webapp.services import users as user_service

CONTROLS = ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9f"]
COFFEE = {"name": "Guji", "roaster": "North Star", "origin": "ET", "process": "natural",
          "roast": "light", "description": "Bright."}


def body(response) -> str:
    return response.get_data(as_text=True)


def counts() -> tuple[int, int, int]:
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count(m.id))) for m in (User, Coffee, Review))


@pytest.fixture
def admin_client(app, make_user):
    make_user("root", role="admin")
    client = app.test_client()
    response = client.post("/auth/login", data={"login": "root", "password": PASSWORD})
    assert response.status_code == 303
    return client


class TestControlCharacters:
    @pytest.mark.parametrize("char", CONTROLS)
    @pytest.mark.parametrize("url", [
        "/coffees?q=a{}b", "/auth/check-username?username=ab{}c",
        "/coffees/similar?name=Gu{}ji&roaster=x", "/coffees?origin={}"])
    def test_in_a_query_string_is_422(self, client, url, char):
        response = client.get(url.format(char))
        assert response.status_code == 422
        assert "control characters" in body(response)

    def test_in_a_query_string_is_422_for_htmx_too(self, client):
        response = client.get("/coffees?q=%00", headers=HX)
        assert response.status_code == 422
        assert response.headers["HX-Retarget"] == "#flashes"

    def test_in_the_admin_search_is_422(self, admin_client):
        assert admin_client.get("/admin/users?q=%00").status_code == 422

    @pytest.mark.parametrize("path", ["/users/al%00ice", "/users/al%1Fice/reviews",
                                      "/users/%C2%85"])
    def test_in_a_path_is_404(self, client, user, path):
        assert client.get(path).status_code == 404

    @pytest.mark.parametrize("char", CONTROLS)
    def test_sign_up_is_422_and_creates_nothing(self, client, char):
        response = client.post("/auth/register", data={
            "username": "bob", "email": "bob@example.com", "password": f"long{char}password",
            "confirm": f"long{char}password"})
        assert response.status_code == 422
        assert "control characters" in body(response)
        assert counts() == (0, 0, 0)

    @pytest.mark.parametrize("char", CONTROLS)
    def test_log_in_is_422(self, client, user, char):
        response = client.post("/auth/login", data={"login": f"alice{char}", "password": PASSWORD})
        assert response.status_code == 422
        assert "control characters" in body(response)
        assert client.get("/settings").status_code == 302  # not logged in

    @pytest.mark.parametrize("field", ["display_name", "bio"])
    def test_settings_are_422_and_unchanged(self, logged_in, user, field):
        data = {"display_name": "Alice", "bio": "Hi", "locale": "", field: "a\x00b"}
        response = logged_in.post("/settings", data=data)
        assert response.status_code == 422
        assert "control characters" in body(response)
        db.session.expire_all()
        stored = db.session.get(User, user.id)
        assert (stored.display_name, stored.bio) == ("", "")

    @pytest.mark.parametrize("field", ["name", "roaster", "description"])
    def test_new_coffee_is_422_and_saves_nothing(self, logged_in, field):
        response = logged_in.post("/coffees/new", data={**COFFEE, field: "x\x00y"})
        assert response.status_code == 422
        assert counts()[1] == 0

    def test_review_is_422_and_saves_nothing(self, logged_in, make_coffee):
        coffee = make_coffee("Kochere")
        response = logged_in.post(f"/coffees/{coffee.id}/reviews", data={
            "rating": "4", "brew_method": "aeropress", "body": "nice\x00"})
        assert response.status_code == 422
        assert counts()[2] == 0

    def test_role_change_is_422(self, admin_client, make_user):
        bob = make_user("bob")
        response = admin_client.post(f"/admin/users/{bob.id}/role", data={"role": "admin\x00"})
        assert response.status_code == 422
        assert "control characters" in body(response)
        db.session.expire_all()
        assert db.session.get(User, bob.id).role == "user"

    @pytest.mark.parametrize("value", ["a\x00b", "\ud800", "ok\x85", "\x7f"])
    def test_the_rule(self, value):
        assert text.has_control(value)

    @pytest.mark.parametrize("value", ["plain", "tab\tnew\nline\r", "кофе ☕", "\u00a0"])
    def test_ordinary_text_passes(self, value):
        assert not text.has_control(value)

    def test_services_refuse_them_too(self, app, user):
        """The bot and the API call services without the request guard."""
        with pytest.raises(ServiceError) as refused:
            user_service.update_profile(user.id, "Al\x00ice", "", None)
        assert refused.value.field == "display_name"


class TestNormalisedAndVisible:
    def test_coffee_text_is_stored_nfc(self, logged_in):
        nfd = unicodedata.normalize("NFD", "Tarrazú Café")
        response = logged_in.post("/coffees/new", data={**COFFEE, "name": nfd, "description": nfd})
        assert response.status_code == 303
        coffee = db.session.scalar(select(Coffee))
        assert coffee.name == "Tarrazú Café" and coffee.description == "Tarrazú Café"

    def test_profile_text_is_stored_nfc(self, logged_in, user):
        nfd = unicodedata.normalize("NFD", "Zoë Ёлкина")
        assert logged_in.post("/settings", data={"display_name": nfd, "bio": nfd,
                                                  "locale": ""}).status_code == 303
        db.session.expire_all()
        stored = db.session.get(User, user.id)
        assert stored.display_name == "Zoë Ёлкина" and stored.bio == "Zoë Ёлкина"

    def test_a_review_is_stored_nfc(self, logged_in, make_coffee):
        """Through the base form's filter: the review service itself does not normalise."""
        coffee = make_coffee("Kochere")
        nfd = unicodedata.normalize("NFD", "Мёд и café")
        response = logged_in.post(f"/coffees/{coffee.id}/reviews", data={
            "rating": "4", "brew_method": "aeropress", "body": nfd})
        assert response.status_code == 303
        assert db.session.scalar(select(Review.body)) == "Мёд и café"

    @pytest.mark.parametrize("name", ["\u200b\u200b", "\u0301\u0301", " \u3164 ", "\u2066\u2069"])
    @pytest.mark.parametrize("field", ["name", "roaster"])
    def test_coffee_names_need_a_visible_character(self, logged_in, field, name):
        response = logged_in.post("/coffees/new", data={**COFFEE, field: name})
        assert response.status_code == 422
        assert 'class="field-error"' in body(response)
        assert counts()[1] == 0

    @pytest.mark.parametrize("name", ["\u0301\u0301", "\u3164"])
    def test_a_display_name_needs_a_visible_character(self, logged_in, user, name):
        response = logged_in.post("/settings", data={"display_name": name, "bio": "", "locale": ""})
        assert response.status_code == 422
        assert "Use at least one visible character." in body(response)

    def test_a_display_name_loses_invisible_characters(self, logged_in, user):
        logged_in.post("/settings", data={"display_name": "\u202eAl\u200bice\ufeff", "bio": "",
                                          "locale": ""})
        db.session.expire_all()
        assert db.session.get(User, user.id).display_name == "Alice"

    @pytest.mark.parametrize("first, name, roaster", [
        ("Guji", "Gu\u200bji", "North Star"),
        ("Guji", "Guji\u2060", "North\u202e Star"),
        ("Guji", "\ufeffGUJI", "north\u2066star\u2069"),
        ("Gují", unicodedata.normalize("NFD", "Gují"), "North Star"),
    ])
    def test_invisible_characters_do_not_beat_the_duplicate_check(self, logged_in, first, name,
                                                                  roaster):
        assert logged_in.post("/coffees/new", data={**COFFEE, "name": first}).status_code == 303
        response = logged_in.post("/coffees/new", data={**COFFEE, "name": name, "roaster": roaster})
        assert response.status_code == 422
        assert "This coffee is already in the catalog." in body(response)
        assert counts()[1] == 1

    def test_sign_up_drops_zero_width_characters_from_the_username(self, client):
        response = client.post("/auth/register", data={
            "username": "\u2066ali\u200bce2\u2069", "email": "a2@example.com",
            "password": PASSWORD, "confirm": PASSWORD})
        assert response.status_code == 303
        assert db.session.scalar(select(User.username)) == "alice2"

    def test_sign_up_with_a_taken_name_and_a_zero_width_space_is_422(self, client, user):
        response = client.post("/auth/register", data={
            "username": "ali\u200bce", "email": "a2@example.com", "password": PASSWORD,
            "confirm": PASSWORD})
        assert response.status_code == 422
        assert "This username is already taken." in body(response)
        assert counts()[0] == 1

    def test_zero_width_characters_leave_a_username(self, app):
        user = user_service.register_user("bo\u200bb\u2060", "bob@example.com", PASSWORD)
        assert user.username == "bob"

    def test_a_username_with_invisible_characters_is_taken_when_the_name_is(self, app, user):
        with pytest.raises(ServiceError, match="already taken"):
            user_service.register_user("ali\u200bce", "other@example.com", PASSWORD)


class TestPagesAndIds:
    HUGE = "99999999999999999999"

    @pytest.mark.parametrize("page", [HUGE, "-5", "abc", "0", "1e9", ""])
    def test_paginated_routes_answer_cleanly(self, admin_client, make_coffee, make_review, app,
                                             page):
        root = db.session.scalar(select(User).where(User.username == "root"))
        coffee = make_coffee("Kochere")
        make_review(coffee, root, 4)
        for url in ("/coffees", f"/coffees/{coffee.id}", f"/coffees/{coffee.id}/reviews",
                    "/users/root", "/users/root/reviews", "/admin/users"):
            response = admin_client.get(f"{url}?page={page}")
            assert response.status_code == 200, url

    @pytest.mark.parametrize("url", ["/coffees/{}", "/coffees/{}/reviews", "/coffees/{}/edit"])
    def test_an_id_past_any_row_is_404(self, logged_in, url):
        assert logged_in.get(url.format(TestPagesAndIds.HUGE)).status_code == 404
        assert logged_in.get(url.format(2**31)).status_code == 404

    def test_an_absurd_exclude_id_is_ignored(self, client, make_coffee):
        make_coffee("Guji", roaster="North Star")
        response = client.get(f"/coffees/similar?name=Guji&roaster=North+Star&exclude={self.HUGE}")
        assert response.status_code == 200
        assert "Already in the catalog:" in body(response)


class TestFilesInTextFields:
    def test_settings_refuse_a_file(self, logged_in, user):
        response = logged_in.post("/settings", content_type="multipart/form-data", data={
            "display_name": (io.BytesIO(b"Mallory"), "name.txt"), "bio": "x", "locale": ""})
        assert response.status_code == 422
        assert "does not accept files" in body(response)
        db.session.expire_all()
        assert db.session.get(User, user.id).bio == ""

    def test_new_coffee_refuses_a_file(self, logged_in):
        response = logged_in.post("/coffees/new", content_type="multipart/form-data", data={
            **COFFEE, "name": (io.BytesIO(b"\x00\xff"), "name.bin")})
        assert response.status_code == 422
        assert counts()[1] == 0

    def test_a_multipart_form_without_files_still_works(self, logged_in, user):
        response = logged_in.post("/settings", content_type="multipart/form-data",
                                  data={"display_name": "Alice", "bio": "", "locale": ""})
        assert response.status_code == 303


class TestNextAfterLogIn:
    @pytest.mark.parametrize("target, expected", [
        ("/привет", "/%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82"),
        ("/%D0%BF", "/%D0%BF"),
        ("/coffees?q=кофе", "/coffees?q=%D0%BA%D0%BE%D1%84%D0%B5"),
        ("//пример.рф/x", "/"),
        ("http://пример.рф/", "/"),
        ("https://[::1", "/"),
        ("//[", "/"),
    ])
    def test_htmx_log_in_redirects_inside_the_site_in_ascii(self, client, user, target, expected):
        response = client.post("/auth/login", headers=HX, data={
            "login": "alice", "password": PASSWORD, "next": target})
        assert response.status_code == 204
        assert response.headers["HX-Redirect"] == expected
        response.headers["HX-Redirect"].encode("latin-1")

    def test_plain_log_in_redirects_the_same_way(self, client, user):
        response = client.post("/auth/login", data={
            "login": "alice", "password": PASSWORD, "next": "/привет"})
        assert response.status_code == 303
        assert response.headers["Location"] == "/%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82"

    def test_a_real_server_sends_the_header(self, live_server, user):
        """Through a real WSGI server, where a non-latin-1 header value fails the response."""
        import urllib.request

        request = urllib.request.Request(
            f"{live_server.url}/auth/login", method="POST", headers={"HX-Request": "true"},
            data=f"login=alice&password={PASSWORD}&next=/%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82"
            .encode())
        response = urllib.request.urlopen(request)
        assert response.status == 204
        assert response.headers["HX-Redirect"] == "/%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82"

