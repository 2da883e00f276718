"""User administration: admins only."""
import pytest

from tests.conftest import HX, PASSWORD


@pytest.fixture
def admin_client(app, make_user):
    make_user("root", role="admin")
    client = app.test_client()
    assert client.post("/auth/login", data={"login": "root", "password": PASSWORD}).status_code == 303
    return client


def client_as(app, make_user, role):
    make_user(f"a_{role}", role=role)
    client = app.test_client()
    client.post("/auth/login", data={"login": f"a_{role}", "password": PASSWORD})
    return client


# Admins only: tests/test_permissions.py holds who gets 403.


def test_non_admin_cannot_promote_themselves(app, make_user, db):
    client = client_as(app, make_user, "moderator")
    from webapp.services.users import find_by_username

    me = find_by_username("a_moderator")
    client.post(f"/admin/users/{me.id}/role", data={"role": "admin"})
    db.session.refresh(me)
    assert me.role == "moderator"


class TestUserList:
    def test_full_and_fragment(self, admin_client, make_user):
        make_user("bob")
        page = admin_client.get("/admin/users")
        assert page.status_code == 200 and b"<html" in page.data
        assert b"bob@example.com" in page.data and b"2 users" in page.data
        fragment = admin_client.get("/admin/users", headers=HX)
        assert b"<html" not in fragment.data and b'id="users-table"' in fragment.data

    def test_search(self, admin_client, make_user):
        make_user("bob", display_name="Robert")
        make_user("carol")
        response = admin_client.get("/admin/users?q=rob", headers=HX)
        assert b"bob@example.com" in response.data and b"carol@example.com" not in response.data
        assert b"1 user" in response.data

    def test_search_treats_wildcards_literally(self, admin_client, make_user):
        make_user("bob")
        response = admin_client.get("/admin/users?q=%25", headers=HX)
        assert b"No users match." in response.data

    def test_pagination(self, app, admin_client, make_user):
        app.config["USERS_PER_PAGE"] = 2
        for i in range(4):
            make_user(f"member{i}")
        first = admin_client.get("/admin/users")
        assert first.data.count(b'class="role-form"') == 2
        assert b'aria-current="page">1<' in first.data and b"page=3" in first.data
        # The fragment is #users-table itself, so it must replace the element, not fill it.
        assert first.data.count(b'hx-target="#users-table" hx-swap="outerHTML') >= 2
        third = admin_client.get("/admin/users?page=3")
        assert third.data.count(b'class="role-form"') == 1
        empty = admin_client.get("/admin/users?page=99")
        assert b"No users match." in empty.data

    def test_bad_page_number_is_harmless(self, admin_client):
        assert admin_client.get("/admin/users?page=abc").status_code == 200
        assert admin_client.get("/admin/users?page=-5").status_code == 200


class TestSetRole:
    def test_fragment_swaps_the_row(self, admin_client, make_user, db):
        bob = make_user("bob")
        response = admin_client.post(f"/admin/users/{bob.id}/role", data={"role": "moderator"},
                                     headers=HX)
        assert response.status_code == 200
        assert response.data.strip().startswith(f'<tr id="user-{bob.id}"'.encode())
        assert b"Saved." in response.data
        db.session.refresh(bob)
        assert bob.role == "moderator"

    def test_plain_form_redirects_with_a_message(self, admin_client, make_user, db):
        bob = make_user("bob")
        response = admin_client.post(f"/admin/users/{bob.id}/role", data={"role": "admin"})
        assert response.status_code == 303 and response.headers["Location"] == "/admin/users"
        assert b"bob is now admin." in admin_client.get("/admin/users").data
        db.session.refresh(bob)
        assert bob.role == "admin"

    @pytest.mark.parametrize("role", ["", "superuser", "ADMIN", "x" * 500])
    def test_unknown_role_is_422(self, admin_client, make_user, db, role):
        bob = make_user("bob")
        response = admin_client.post(f"/admin/users/{bob.id}/role", data={"role": role}, headers=HX)
        assert response.status_code == 422 and b"Unknown role." in response.data
        db.session.refresh(bob)
        assert bob.role == "user"

    def test_unknown_role_plain_form_is_422_page(self, admin_client, make_user):
        bob = make_user("bob")
        response = admin_client.post(f"/admin/users/{bob.id}/role", data={"role": "x"})
        assert response.status_code == 422 and b"Unknown role." in response.data

    def test_admin_cannot_demote_themselves(self, admin_client, db):
        from webapp.services.users import find_by_username

        root = find_by_username("root")
        response = admin_client.post(f"/admin/users/{root.id}/role", data={"role": "user"},
                                     headers=HX)
        assert response.status_code == 422
        assert b"You cannot remove your own admin role." in response.data
        db.session.refresh(root)
        assert root.role == "admin"

    def test_unknown_user_is_404(self, admin_client):
        assert admin_client.post("/admin/users/999999/role", data={"role": "user"}).status_code == 404

    def test_non_numeric_id_is_404(self, admin_client):
        assert admin_client.post("/admin/users/abc/role", data={"role": "user"}).status_code == 404

    def test_csrf_is_enforced(self, csrf_app, make_user, db):
        make_user("root2", role="admin")
        bob = make_user("bob")
        client = csrf_app.test_client()
        page = client.get("/auth/login").data.decode()
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        client.post("/auth/login", data={"login": "root2", "password": PASSWORD, "csrf_token": token})
        response = client.post(f"/admin/users/{bob.id}/role", data={"role": "admin"})
        assert response.status_code == 400
        db.session.refresh(bob)
        assert bob.role == "user"
        # The token changed at log-in: the one to send now is on the next page.
        token = client.get("/admin/users").data.decode().split(
            'name="csrf_token" value="')[1].split('"')[0]
        ok = client.post(f"/admin/users/{bob.id}/role", data={"role": "admin"},
                         headers={"X-CSRFToken": token, **HX})
        assert ok.status_code == 200
