"""Public profiles, profile settings and password change."""
import pytest

from tests.conftest import HX, PASSWORD


class TestProfilePage:
    def test_full_and_fragment(self, client, make_user):
        make_user("bob", display_name="Bob Barista", bio="V60 every morning.")
        page = client.get("/users/bob")
        assert page.status_code == 200 and b"<html" in page.data
        assert b"Bob Barista" in page.data and b"V60 every morning." in page.data
        assert b"@bob" in page.data and b"Member since" in page.data
        assert b'class="avatar"' in page.data and b">BB<" in page.data
        fragment = client.get("/users/bob", headers=HX)
        assert b"<html" not in fragment.data and b'id="profile"' in fragment.data

    def test_lookup_ignores_case(self, client, make_user):
        make_user("bob")
        assert client.get("/users/BOB").status_code == 200

    def test_unknown_user_is_404(self, client):
        response = client.get("/users/nobody")
        assert response.status_code == 404
        assert b"Page not found" in response.data and b"<html" in response.data

    def test_unknown_user_fragment_goes_to_the_flash_area(self, client):
        response = client.get("/users/nobody", headers=HX)
        assert response.status_code == 404
        assert response.headers["HX-Retarget"] == "#flashes"
        assert b"<html" not in response.data

    def test_html_in_profile_fields_is_escaped(self, client, make_user):
        make_user("bob", display_name="<b>bold</b>", bio="<script>alert(1)</script>")
        page = client.get("/users/bob")
        assert b"<script>alert(1)</script>" not in page.data
        assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.data
        assert b"<b>bold</b>" not in page.data

    def test_edit_link_only_on_own_profile(self, logged_in, make_user):
        make_user("bob")
        assert b"Edit profile" in logged_in.get("/users/alice").data
        assert b"Edit profile" not in logged_in.get("/users/bob").data

    def test_role_badge(self, client, make_user):
        make_user("mod", role="moderator")
        assert b"role-moderator" in client.get("/users/mod").data


# Settings need a login: tests/test_permissions.py.


class TestSettings:
    def test_full_and_fragment(self, logged_in):
        page = logged_in.get("/settings")
        assert page.status_code == 200 and b"<html" in page.data and b'id="settings-form"' in page.data
        fragment = logged_in.get("/settings", headers=HX)
        assert b"<html" not in fragment.data and b'id="settings-form"' in fragment.data

    def test_save(self, logged_in, user, db):
        response = logged_in.post("/settings", data={
            "display_name": "  Alice Liddell ", "bio": "Line one\r\nLine two", "locale": "ru"})
        assert response.status_code == 303 and response.headers["Location"] == "/users/alice"
        db.session.refresh(user)
        assert (user.display_name, user.bio, user.locale) == ("Alice Liddell", "Line one\nLine two", "ru")

    def test_save_from_fragment_request(self, logged_in, user, db):
        response = logged_in.post("/settings", data={"display_name": "A", "bio": "", "locale": ""},
                                  headers=HX)
        assert response.status_code == 204 and response.headers["HX-Redirect"] == "/users/alice"
        db.session.refresh(user)
        assert user.display_name == "A" and user.locale is None

    def test_form_shows_current_values(self, logged_in, user, db):
        user.display_name, user.bio = "Alice L", "Hello there"
        db.session.commit()
        page = logged_in.get("/settings")
        assert b'value="Alice L"' in page.data and b"Hello there" in page.data

    @pytest.mark.parametrize("fields, message", [
        ({"bio": "x" * 501}, b"cannot be longer than 500"),
        ({"display_name": "x" * 65}, b"cannot be longer than 64"),
        ({"locale": "de"}, b"Not a valid choice"),
    ])
    def test_bad_input_is_422_and_saves_nothing(self, logged_in, user, db, fields, message):
        data = {"display_name": "Changed", "bio": "Changed", "locale": "", **fields}
        response = logged_in.post("/settings", data=data)
        assert response.status_code == 422 and message in response.data
        db.session.refresh(user)
        assert user.display_name == "" and user.bio == ""

    def test_bad_input_fragment(self, logged_in):
        response = logged_in.post("/settings", data={"bio": "x" * 501}, headers=HX)
        assert response.status_code == 422
        assert b"<html" not in response.data and b'id="settings-form"' in response.data

    def test_bio_of_exactly_500_is_fine(self, logged_in, user, db):
        response = logged_in.post("/settings", data={"display_name": "", "bio": "é" * 500, "locale": ""})
        assert response.status_code == 303
        db.session.refresh(user)
        assert len(user.bio) == 500


class TestPassword:
    def change(self, client, current=PASSWORD, new="brand-new-password", confirm=None, headers=None):
        return client.post("/settings/password", headers=headers or {}, data={
            "current_password": current, "new_password": new,
            "confirm": new if confirm is None else confirm})

    def test_full_and_fragment(self, logged_in):
        assert b'id="password-form"' in logged_in.get("/settings/password").data
        fragment = logged_in.get("/settings/password", headers=HX)
        assert b"<html" not in fragment.data and b'id="password-form"' in fragment.data

    def test_change_keeps_this_session_and_ends_others(self, app, logged_in, user, auth):
        other = app.test_client()
        other.post("/auth/login", data={"login": "alice", "password": PASSWORD})
        assert b"Log out" in other.get("/").data
        response = self.change(logged_in)
        assert response.status_code == 303
        assert b"Log out" in logged_in.get("/").data
        assert b"Log out" not in other.get("/").data
        auth.logout()
        assert auth.login(password="brand-new-password").status_code == 303

    @pytest.mark.parametrize("kwargs, message", [
        ({"current": "not-my-password"}, b"Your current password is not correct."),
        ({"new": "short"}, b"Use between 10 and 256 characters."),
        ({"confirm": "different-password"}, b"Passwords do not match."),
        ({"current": ""}, b"This field is required."),
    ])
    def test_bad_input_is_422_and_keeps_the_old_password(self, logged_in, user, db, kwargs, message):
        response = self.change(logged_in, **kwargs)
        assert response.status_code == 422 and message in response.data
        db.session.refresh(user)
        assert user.check_password(PASSWORD)

    def test_bad_input_fragment(self, logged_in):
        response = self.change(logged_in, current="nope-nope-nope", headers=HX)
        assert response.status_code == 422 and b"<html" not in response.data
        assert b"Your current password is not correct." in response.data
