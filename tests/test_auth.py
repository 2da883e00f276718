"""Sign-up, availability check, log-in, log-out, flood control."""
import pytest
from limits import parse
from sqlalchemy import func, select

from tests.conftest import HX, HX_BOOSTED, PASSWORD
from webapp.models import User


def user_count(db) -> int:
    return db.session.scalar(select(func.count(User.id)))


def login_limit(app) -> int:
    """Attempts allowed per account and IP before 429."""
    return parse(app.config["RATE_LIMITS"]["login-account-ip"]).amount


def signup(client, headers=None, **fields):
    data = {"username": "newbie", "email": "newbie@example.com",
            "password": PASSWORD, "confirm": PASSWORD, **fields}
    return client.post("/auth/register", data=data, headers=headers or {})


class TestRegister:
    def test_page_and_fragment(self, client):
        page = client.get("/auth/register")
        assert page.status_code == 200
        assert b"<html" in page.data and b'id="register-form"' in page.data
        fragment = client.get("/auth/register", headers=HX)
        assert fragment.status_code == 200
        assert b"<html" not in fragment.data and b'id="register-form"' in fragment.data
        assert "HX-Request" in fragment.headers["Vary"]

    def test_boosted_request_gets_full_page(self, client):
        assert b"<html" in client.get("/auth/register", headers=HX_BOOSTED).data

    def test_history_restore_gets_full_page(self, client):
        headers = {**HX, "HX-History-Restore-Request": "true"}
        assert b"<html" in client.get("/auth/register", headers=headers).data

    def test_success_logs_in_and_redirects_to_profile(self, client, db):
        response = signup(client, email="NewBie@Example.COM")
        assert response.status_code == 303
        assert response.headers["Location"] == "/users/newbie"
        user = db.session.scalar(select(User).where(User.username == "newbie"))
        assert user.email == "newbie@example.com"
        assert user.password_hash != PASSWORD and user.check_password(PASSWORD)
        assert user.role == "user"
        page = client.get("/users/newbie")
        assert b"Welcome to Crema, newbie!" in page.data
        assert b"Log out" in page.data

    def test_success_from_fragment_request_navigates(self, client):
        response = signup(client, headers=HX)
        assert response.status_code == 204
        assert response.headers["HX-Redirect"] == "/users/newbie"

    @pytest.mark.parametrize(
        "fields, message",
        [
            ({"username": ""}, b"This field is required."),
            ({"username": "ab"}, b"between 3 and 32 characters"),
            ({"username": "x" * 33}, b"between 3 and 32 characters"),
            ({"username": "bad name!"}, b"Letters, digits, _ and - only."),
            ({"username": "<script>alert(1)</script>"}, b"Letters, digits, _ and - only."),
            ({"email": ""}, b"This field is required."),
            ({"email": "not-an-email"}, b"Invalid email address."),
            ({"email": "a" * 250 + "@example.com"}, b"longer than 254"),
            ({"password": "short", "confirm": "short"}, b"Use between 10 and 256 characters."),
            ({"confirm": "something-else-entirely"}, b"Passwords do not match."),
            ({"password": "", "confirm": ""}, b"This field is required."),
        ],
    )
    def test_bad_input_is_422_inline_and_saves_nothing(self, client, db, fields, message):
        response = signup(client, **fields)
        assert response.status_code == 422
        assert message in response.data
        assert b'aria-invalid="true"' in response.data
        assert user_count(db) == 0

    def test_bad_input_fragment_rerenders_form_only(self, client, db):
        response = signup(client, headers=HX, username="ab")
        assert response.status_code == 422
        assert b"<html" not in response.data and b'id="register-form"' in response.data
        assert user_count(db) == 0

    @pytest.mark.parametrize("username", ["alice", "ALICE", "Alice"])
    def test_username_is_unique_whatever_the_case(self, client, db, user, username):
        response = signup(client, username=username)
        assert response.status_code == 422
        assert b"This username is already taken." in response.data
        assert user_count(db) == 1

    def test_email_is_unique_whatever_the_case(self, client, db, user):
        response = signup(client, email="ALICE@example.com")
        assert response.status_code == 422
        assert b"An account with this email already exists." in response.data
        assert user_count(db) == 1

    def test_script_in_fields_is_escaped_when_shown_back(self, client):
        response = signup(client, username="<script>x</script>", email="<img src=x>")
        assert b"<script>x</script>" not in response.data
        assert b"&lt;script&gt;x&lt;/script&gt;" in response.data

    def test_logged_in_user_is_sent_home(self, logged_in):
        response = logged_in.get("/auth/register")
        assert response.status_code == 303 and response.headers["Location"] == "/"

    def test_sign_up_flood_from_one_address_is_429(self, app, client, db):
        app.config["RATE_LIMITS"]["register-ip"] = "2 per hour"
        assert signup(client, username="one", email="one@example.com").status_code == 303
        client.post("/auth/logout")
        assert signup(client, username="two", email="two@example.com").status_code == 303
        client.post("/auth/logout")
        response = signup(client, username="three", email="three@example.com")
        assert response.status_code == 429
        assert b"Too many sign-ups" in response.data
        assert user_count(db) == 2


class TestUsernameCheck:
    def test_available(self, client):
        response = client.get("/auth/check-username?username=fresh_name", headers=HX)
        assert response.status_code == 200
        assert b"fresh_name is available." in response.data and b"<html" not in response.data

    def test_taken_case_insensitive(self, client, user):
        response = client.get("/auth/check-username?username=ALICE", headers=HX)
        assert b"already taken" in response.data

    def test_malformed(self, client):
        response = client.get("/auth/check-username?username=a!", headers=HX)
        assert b"letters, digits" in response.data

    def test_empty_says_nothing(self, client):
        response = client.get("/auth/check-username?username=", headers=HX)
        assert response.data.strip() == b""

    def test_full_page_without_javascript(self, client, user):
        response = client.get("/auth/check-username?username=alice")
        assert b"<html" in response.data and b"already taken" in response.data

    def test_escapes_input(self, client):
        response = client.get("/auth/check-username?username=<b>x</b>", headers=HX)
        assert b"<b>" not in response.data


class TestLogin:
    def test_page_and_fragment(self, client):
        page = client.get("/auth/login")
        assert page.status_code == 200 and b"<html" in page.data
        fragment = client.get("/auth/login", headers=HX)
        assert b"<html" not in fragment.data and b'id="login-form"' in fragment.data

    @pytest.mark.parametrize("login", ["alice", "ALICE", "alice@example.com", "Alice@Example.com"])
    def test_by_username_or_email(self, client, auth, user, login):
        response = auth.login(login=login)
        assert response.status_code == 303 and response.headers["Location"] == "/"
        assert b"Log out" in client.get("/").data

    def test_fragment_request_navigates(self, client, user):
        response = client.post("/auth/login", data={"login": "alice", "password": PASSWORD},
                               headers=HX)
        assert response.status_code == 204 and response.headers["HX-Redirect"] == "/"

    @pytest.mark.parametrize("login, password", [("alice", "wrong-password!"), ("nobody", PASSWORD)])
    def test_wrong_credentials_are_422_with_one_message(self, client, auth, user, login, password):
        response = auth.login(login=login, password=password)
        assert response.status_code == 422
        assert b"Wrong username, email or password." in response.data
        assert b"Log out" not in client.get("/").data

    def test_missing_fields(self, client, auth):
        response = auth.login(login="", password="")
        assert response.status_code == 422
        assert response.data.count(b"This field is required.") == 2

    def test_remember_me_sets_a_remember_cookie(self, client, auth, user):
        auth.login(remember="y")
        cookie = client.get_cookie("remember_token")
        assert cookie is not None and cookie.http_only

    def test_without_remember_me_no_remember_cookie(self, client, auth, user):
        auth.login()
        assert client.get_cookie("remember_token") is None

    def test_remember_cookie_restores_the_session(self, app, client, auth, user):
        auth.login(remember="y")
        remember = client.get_cookie("remember_token").value
        fresh = app.test_client()
        fresh.set_cookie("remember_token", remember)
        assert b"Log out" in fresh.get("/").data

    @pytest.mark.parametrize("target", ["/settings", "/users/alice?tab=x"])
    def test_next_inside_the_site_is_followed(self, client, auth, user, target):
        response = auth.login(next=target)
        assert response.headers["Location"] == target

    @pytest.mark.parametrize("target", [
        "//evil.example", "https://evil.example/", "http:evil.example", "/\\evil.example",
        "javascript:alert(1)", "\\\\evil.example", " //evil.example", "/%0a/evil",
        "evil.example/path",
    ])
    def test_next_off_site_is_ignored(self, client, auth, user, target):
        response = auth.login(next=target)
        assert response.status_code == 303
        location = response.headers["Location"]
        assert location in ("/", target.strip()) and "evil" not in location.split("/")[0]
        assert not location.startswith("//") and "://" not in location

    def test_login_page_carries_next(self, client):
        response = client.get("/auth/login?next=/settings")
        assert b'value="/settings"' in response.data


class TestLoginFlood:
    def test_account_is_locked_after_repeated_failures(self, app, client, auth, user):
        for _ in range(login_limit(app)):
            assert auth.login(password="wrong-password!").status_code == 422
        response = auth.login()  # even the right password waits
        assert response.status_code == 429
        assert b"Too many log-in attempts. Try again in 15 minutes." in response.data
        assert 890 < int(response.headers["Retry-After"]) <= 900
        assert b"Log out" not in client.get("/").data

    def test_lock_is_per_account(self, app, client, auth, user, make_user):
        make_user("bob")
        for _ in range(login_limit(app)):
            auth.login(password="wrong-password!")
        assert auth.login(login="bob").status_code == 303

    def test_lock_counts_username_and_email_variants_alike(self, app, auth, user):
        for n in range(login_limit(app)):
            auth.login(login=("ALICE", "Alice@Example.com")[n % 2], password="wrong-password!")
        assert auth.login(login="alice").status_code == 429

    def test_ip_limit_spans_accounts(self, app, client, auth, make_user):
        app.config["RATE_LIMITS"]["login-ip"] = "3 per 15 minutes"
        make_user("carol")
        for name in ("x1", "x2", "x3"):
            auth.login(login=name, password="wrong-password!")
        response = auth.login(login="carol")
        assert response.status_code == 429

    def test_success_resets_the_account_counter(self, app, client, auth, user):
        limit = login_limit(app)
        for _ in range(limit - 1):
            auth.login(password="wrong-password!")
        assert auth.login().status_code == 303
        auth.logout()
        for _ in range(limit - 1):
            auth.login(password="wrong-password!")
        assert auth.login().status_code == 303

    def test_fragment_request_gets_the_form_with_the_message(self, app, client, user):
        app.config["RATE_LIMITS"]["login-account-ip"] = "1 per 15 minutes"
        data = {"login": "alice", "password": "wrong-password!"}
        client.post("/auth/login", data=data, headers=HX)
        response = client.post("/auth/login", data=data, headers=HX)
        assert response.status_code == 429
        assert b'id="login-form"' in response.data and b"<html" not in response.data


class TestLogout:
    def test_logs_out(self, logged_in):
        response = logged_in.post("/auth/logout")
        assert response.status_code == 303
        page = logged_in.get("/")
        assert b"You have been logged out." in page.data and b"Log out" not in page.data

    def test_get_is_not_allowed(self, logged_in):
        assert logged_in.get("/auth/logout").status_code == 405
        assert b"Log out" in logged_in.get("/").data
