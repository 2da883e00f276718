"""CSRF, cookies, security headers and the open-redirect guard."""
import re

import pytest
from sqlalchemy import func, select

from tests.conftest import HX, PASSWORD
from webapp.htmx import safe_next
from webapp.models import User


def csrf_token(client, url="/auth/login") -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                     client.get(url).get_data(as_text=True)).group(1)


class TestCsrf:
    def test_missing_token_on_sign_up_is_400_and_saves_nothing(self, csrf_app, db):
        client = csrf_app.test_client()
        response = client.post("/auth/register", data={
            "username": "newbie", "email": "n@example.com", "password": PASSWORD, "confirm": PASSWORD})
        assert response.status_code == 400
        assert b"Reload the page and try again." in response.data
        assert db.session.scalar(select(func.count(User.id))) == 0

    def test_wrong_token_is_400(self, csrf_app, user):
        client = csrf_app.test_client()
        response = client.post("/auth/login", data={
            "login": "alice", "password": PASSWORD, "csrf_token": "forged"})
        assert response.status_code == 400
        assert b"Log out" not in client.get("/").data

    def test_token_from_another_session_is_refused(self, csrf_app, user):
        other_token = csrf_token(csrf_app.test_client())
        client = csrf_app.test_client()
        client.get("/auth/login")
        response = client.post("/auth/login", data={
            "login": "alice", "password": PASSWORD, "csrf_token": other_token})
        assert response.status_code == 400

    def test_form_token_is_accepted(self, csrf_app, user):
        client = csrf_app.test_client()
        response = client.post("/auth/login", data={
            "login": "alice", "password": PASSWORD, "csrf_token": csrf_token(client)})
        assert response.status_code == 303

    def test_header_token_is_accepted_for_htmx(self, csrf_app, user):
        client = csrf_app.test_client()
        token = csrf_token(client)
        response = client.post("/auth/login", data={"login": "alice", "password": PASSWORD},
                               headers={"X-CSRFToken": token, **HX})
        assert response.status_code == 204

    def test_body_carries_the_token_for_htmx(self, csrf_app):
        page = csrf_app.test_client().get("/").get_data(as_text=True)
        assert re.search(r"<body[^>]*hx-headers='\{\"X-CSRFToken\": \"[^\"]+\"\}'", page)

    @pytest.mark.parametrize("url, data", [
        ("/auth/logout", {}),
        ("/settings", {"display_name": "Hacked", "bio": "", "locale": ""}),
        ("/settings/password", {"current_password": PASSWORD, "new_password": "x" * 12,
                                "confirm": "x" * 12}),
        ("/language", {"lang": "ru"}),
    ])
    def test_state_changing_forms_need_the_token(self, csrf_app, user, db, url, data):
        client = csrf_app.test_client()
        client.post("/auth/login", data={
            "login": "alice", "password": PASSWORD, "csrf_token": csrf_token(client)})
        response = client.post(url, data=data)
        assert response.status_code == 400
        db.session.refresh(user)
        assert user.display_name == "" and user.check_password(PASSWORD) and user.locale is None
        assert b"Log out" in client.get("/").data

    def test_csrf_error_fragment(self, csrf_app):
        response = csrf_app.test_client().post("/auth/login", data={}, headers=HX)
        assert response.status_code == 400 and response.headers["HX-Retarget"] == "#flashes"


class TestCookies:
    def test_session_cookie_flags(self, client, auth, user):
        response = auth.login(remember="y")
        cookies = response.headers.getlist("Set-Cookie")
        session = next(c for c in cookies if c.startswith("session="))
        remember = next(c for c in cookies if c.startswith("remember_token="))
        for cookie in (session, remember):
            assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
            assert "Secure" not in cookie  # plain http in tests

    def test_cookies_are_secure_over_https(self, app, user):
        client = app.test_client()
        response = client.post("/auth/login", base_url="https://localhost",
                               data={"login": "alice", "password": PASSWORD, "remember": "y"})
        cookies = response.headers.getlist("Set-Cookie")
        assert len(cookies) >= 2 and all("; Secure" in c for c in cookies)


def test_security_headers(client):
    response = client.get("/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_no_external_scripts_or_styles(client):
    page = client.get("/").get_data(as_text=True)
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert not url.startswith(("http:", "https:", "//")), url
    assert "/static/vendor/htmx-2.0." in page and "/static/vendor/htmx-ext-ws-2.0." in page


@pytest.mark.parametrize("target, expected", [
    ("/settings", "/settings"),
    ("/users/bob?x=1#top", "/users/bob?x=1#top"),
    ("", "/"),
    (None, "/"),
    ("//evil.example", "/"),
    ("///evil.example", "/"),
    ("https://evil.example", "/"),
    ("http:evil.example", "/"),
    ("/\\evil.example", "/"),
    ("\\\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("/\tevil", "/"),
    ("relative/path", "/"),
])
def test_safe_next(target, expected):
    assert safe_next(target, "/") == expected
