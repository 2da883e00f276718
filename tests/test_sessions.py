"""Server-side sessions, /settings/sessions, CSRF rotation, no-store and security headers."""
import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from tests.conftest import HX, HX_BOOSTED, PASSWORD
from webapp.devices import browser_and_system
from webapp.models import User, UserSession
from webapp.models.base import utcnow

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")
CHROME_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/131.0.0.0 Safari/537.36")


def log_in(app, user_agent=FIREFOX_LINUX, remember=False, login="alice"):
    """A new browser (test client) logged in with ``user_agent``."""
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    data = {"login": login, "password": PASSWORD, **({"remember": "y"} if remember else {})}
    if app.config["WTF_CSRF_ENABLED"]:
        data["csrf_token"] = csrf_token_on(client, "/auth/login")
    assert client.post("/auth/login", data=data).status_code == 303
    return client


def logged_in_as(client) -> bool:
    """True when the client's cookies sign someone in (a private page answers 200)."""
    return client.get("/settings").status_code == 200


def browser_with(app, **cookies):
    """A fresh browser holding only copies of ``cookies``."""
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def sessions_of(db, user) -> list[UserSession]:
    db.session.rollback()  # see what the requests committed
    return list(db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)))


def login_id(app, client) -> str:
    """The login id Flask-Login keeps in the client's signed session cookie."""
    cookie = client.get_cookie("session").value
    return app.session_interface.get_signing_serializer(app).loads(cookie)["_user_id"]


def set_last_seen(db, row_id, ago: timedelta) -> None:
    row = db.session.get(UserSession, row_id)
    row.last_seen_at = utcnow() - ago
    db.session.commit()


class TestServerSideSessions:
    def test_log_in_records_a_session_keeping_only_the_tokens_hash(self, app, db, user):
        client = log_in(app)
        [row] = sessions_of(db, user)
        token = login_id(app, client)
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
        assert len(token) >= 40 and token not in (row.user_agent, row.ip)
        assert row.user_agent == FIREFOX_LINUX and row.ip == "127.0.0.1"
        assert row.created_at == row.last_seen_at and utcnow() - row.created_at < timedelta(minutes=1)

    def test_each_log_in_is_its_own_session(self, app, db, user):
        first, second = log_in(app), log_in(app, CHROME_WINDOWS)
        assert len(sessions_of(db, user)) == 2
        assert login_id(app, first) != login_id(app, second)

    def test_log_out_ends_a_copied_session_cookie(self, app, db, user):
        client = log_in(app)
        stolen = client.get_cookie("session").value
        assert logged_in_as(browser_with(app, session=stolen))  # the copy works until log-out
        assert client.post("/auth/logout").status_code == 303
        assert sessions_of(db, user) == []
        assert not logged_in_as(browser_with(app, session=stolen))

    def test_log_out_ends_a_copied_remember_cookie(self, app, db, user):
        client = log_in(app, remember=True)
        stolen = client.get_cookie("remember_token").value
        assert logged_in_as(browser_with(app, remember_token=stolen))
        client.post("/auth/logout")
        assert not logged_in_as(browser_with(app, remember_token=stolen))

    def test_log_out_leaves_the_accounts_other_sessions(self, app, db, user):
        laptop, phone = log_in(app), log_in(app, SAFARI_IPHONE)
        laptop.post("/auth/logout")
        assert not logged_in_as(laptop) and logged_in_as(phone)
        assert [r.user_agent for r in sessions_of(db, user)] == [SAFARI_IPHONE]

    def test_password_change_ends_every_other_session_and_its_remember_cookie(self, app, db, user):
        here, other = log_in(app), log_in(app, SAFARI_IPHONE, remember=True)
        remembered = other.get_cookie("remember_token").value
        response = here.post("/settings/password", data={
            "current_password": PASSWORD, "new_password": "brand-new-password",
            "confirm": "brand-new-password"})
        assert response.status_code == 303
        assert logged_in_as(here) and not logged_in_as(other)
        assert not logged_in_as(browser_with(app, remember_token=remembered))
        assert [r.user_agent for r in sessions_of(db, user)] == [FIREFOX_LINUX]

    def test_last_seen_is_written_at_most_every_few_minutes(self, app, db, user):
        client = log_in(app)
        [row] = sessions_of(db, user)
        set_last_seen(db, row.id, timedelta(minutes=2))
        recent = db.session.get(UserSession, row.id).last_seen_at
        client.get("/")
        assert sessions_of(db, user)[0].last_seen_at == recent  # no write
        set_last_seen(db, row.id, timedelta(minutes=6))
        client.get("/")
        assert utcnow() - sessions_of(db, user)[0].last_seen_at < timedelta(seconds=30)

    def test_a_session_unused_for_longer_than_a_remember_cookie_lasts_is_over(self, app, db, user):
        client = log_in(app, remember=True)
        [row] = sessions_of(db, user)
        set_last_seen(db, row.id, timedelta(seconds=app.config["REMEMBER_COOKIE_DURATION"] + 60))
        assert not logged_in_as(client)
        old_hash = row.token_hash
        log_in(app)  # the next log-in clears it away
        assert [r.token_hash != old_hash for r in sessions_of(db, user)] == [True]

    def test_deleting_the_account_deletes_its_sessions(self, app, db, user):
        log_in(app)
        db.session.execute(delete(User).where(User.id == user.id))
        db.session.commit()
        assert db.session.scalar(select(func.count(UserSession.id))) == 0

    @pytest.mark.parametrize("user_agent", ["Firefox/1.0 \x7f\x01bad", "x" * 1000, ""])
    def test_odd_user_agents_are_stored_cleaned_and_truncated(self, app, db, user, user_agent):
        log_in(app, user_agent)
        [row] = sessions_of(db, user)
        assert row.user_agent.isprintable() and len(row.user_agent) <= 255
        assert row.user_agent == "".join(c for c in user_agent if c.isprintable())[:255]

    def test_a_forged_login_id_signs_no_one_in(self, app, user):
        client = log_in(app)
        with client.session_transaction() as session:
            session["_user_id"] = f"{user.id}:{user.session_token}"  # yesterday's format
        assert not logged_in_as(client)


class TestLogInNavigation:
    def test_boosted_log_in_loads_a_whole_new_page(self, client, user):
        # A boosted swap would keep <body>'s hx-headers, with the CSRF token from before.
        response = client.post("/auth/login", data={"login": "alice", "password": PASSWORD},
                               headers=HX_BOOSTED)
        assert response.status_code == 204 and response.headers["HX-Redirect"] == "/"

    def test_history_restore_of_a_private_page_gets_a_plain_redirect(self, client):
        response = client.get("/settings", headers={**HX, "HX-History-Restore-Request": "true"})
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/auth/login?next=")


def csrf_token_on(client, url) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"',
                     client.get(url).get_data(as_text=True)).group(1)


def raw(token: str) -> str:
    """The session's token inside a signed form token; the signature around it carries a
    timestamp, so two pages a second apart show different signed tokens for the same one."""
    return token.split(".", 1)[0]


class TestCsrfRotation:
    def test_the_token_changes_at_log_in_and_the_old_one_is_refused(self, csrf_app, user, db):
        client = csrf_app.test_client()
        before = csrf_token_on(client, "/auth/login")
        response = client.post("/auth/login", data={
            "login": "alice", "password": PASSWORD, "csrf_token": before})
        assert response.status_code == 303
        after = csrf_token_on(client, "/settings")
        assert raw(after) != raw(before)
        profile = {"display_name": "Alice", "bio": "", "locale": ""}
        assert client.post("/settings", data={**profile, "csrf_token": before}).status_code == 400
        assert client.post("/settings", headers={"X-CSRFToken": before},
                           data=profile).status_code == 400
        db.session.refresh(user)
        assert user.display_name == ""
        assert client.post("/settings", data={**profile, "csrf_token": after}).status_code == 303

    def test_a_refused_log_in_keeps_the_token(self, csrf_app, user):
        client = csrf_app.test_client()
        before = csrf_token_on(client, "/auth/login")
        client.post("/auth/login", data={"login": "alice", "password": "wrong-password!",
                                         "csrf_token": before})
        assert raw(csrf_token_on(client, "/auth/login")) == raw(before)


class TestSessionsPage:
    # Who may use these pages: tests/test_permissions.py.

    def test_lists_the_accounts_sessions_with_this_device_marked(self, app, db, user, make_user):
        make_user("bob")
        here = log_in(app)
        log_in(app, SAFARI_IPHONE)
        log_in(app, CHROME_WINDOWS, login="bob")
        firefox, safari = sessions_of(db, user)
        set_last_seen(db, safari.id, timedelta(minutes=3))
        page = here.get("/settings/sessions")
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and "<html" in html
        assert html.count('<li id="session-') == 2 and "Chrome on Windows" not in html
        mine = html[html.index(f'id="session-{firefox.id}"'):html.index(f'id="session-{safari.id}"')]
        assert "Firefox on Linux" in mine and "This device" in mine and "Active now" in mine
        assert f"/settings/sessions/{firefox.id}/sign-out" not in html
        other = html[html.index(f'id="session-{safari.id}"'):]
        assert "Safari on iOS" in other and "This device" not in other
        assert "Last active" in other and "3 minutes ago" in other
        assert f'action="/settings/sessions/{safari.id}/sign-out"' in other
        assert "Sign out all other sessions" in html

    def test_fragment_for_htmx(self, app, user):
        response = log_in(app).get("/settings/sessions", headers=HX)
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and "<html" not in html
        assert '<section id="sessions"' in html
        assert "You are not signed in anywhere else." in html

    def test_linked_from_settings(self, app, user):
        assert b'href="/settings/sessions"' in log_in(app).get("/settings").data

    def test_sign_out_one_session_without_javascript(self, app, db, user):
        here, phone = log_in(app), log_in(app, SAFARI_IPHONE)
        target = sessions_of(db, user)[1]
        response = here.post(f"/settings/sessions/{target.id}/sign-out")
        assert response.status_code == 303 and response.headers["Location"] == "/settings/sessions"
        assert "That session has been signed out." in here.get("/settings/sessions").get_data(as_text=True)
        assert not logged_in_as(phone) and logged_in_as(here)

    def test_sign_out_one_session_with_htmx_swaps_the_list(self, app, db, user):
        here, phone = log_in(app), log_in(app, SAFARI_IPHONE)
        target = sessions_of(db, user)[1]
        response = here.post(f"/settings/sessions/{target.id}/sign-out", headers=HX)
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and "<html" not in html
        assert '<section id="sessions"' in html and "Safari on iOS" not in html
        assert 'hx-swap-oob' in html and "That session has been signed out." in html
        assert not logged_in_as(phone)

    def test_sign_out_all_other_sessions(self, app, db, user):
        here = log_in(app)
        others = [log_in(app, SAFARI_IPHONE), log_in(app, CHROME_WINDOWS, remember=True)]
        response = here.post("/settings/sessions/sign-out-others", headers=HX)
        assert response.status_code == 200
        assert "2 other sessions signed out." in response.get_data(as_text=True)
        assert not any(logged_in_as(c) for c in others) and logged_in_as(here)
        assert [r.user_agent for r in sessions_of(db, user)] == [FIREFOX_LINUX]

    def test_another_accounts_session_is_404_and_keeps_working(self, app, db, user, make_user):
        bob = make_user("bob")
        bobs_browser = log_in(app, login="bob")
        [bobs] = sessions_of(db, bob)
        here = log_in(app)
        assert here.post(f"/settings/sessions/{bobs.id}/sign-out").status_code == 404
        assert here.post(f"/settings/sessions/{bobs.id}/sign-out", headers=HX).status_code == 404
        assert here.post("/settings/sessions/999999/sign-out").status_code == 404
        assert logged_in_as(bobs_browser) and len(sessions_of(db, bob)) == 1

    def test_signing_out_this_session_logs_out(self, app, db, user):
        here = log_in(app)
        [mine] = sessions_of(db, user)
        response = here.post(f"/settings/sessions/{mine.id}/sign-out")
        assert response.status_code == 303 and response.headers["Location"] == "/"
        assert not logged_in_as(here) and sessions_of(db, user) == []

    def test_sign_out_needs_the_csrf_token(self, csrf_app, db, user):
        here, phone = log_in(csrf_app), log_in(csrf_app, SAFARI_IPHONE)
        target = sessions_of(db, user)[1]
        assert here.post(f"/settings/sessions/{target.id}/sign-out").status_code == 400
        assert here.post("/settings/sessions/sign-out-others").status_code == 400
        assert logged_in_as(phone) and len(sessions_of(db, user)) == 2

    def test_sign_out_with_the_pages_token(self, csrf_app, db, user):
        here, phone = log_in(csrf_app), log_in(csrf_app, SAFARI_IPHONE)
        token = csrf_token_on(here, "/settings/sessions")
        response = here.post("/settings/sessions/sign-out-others", data={"csrf_token": token})
        assert response.status_code == 303 and not logged_in_as(phone)

    def test_russian(self, app, db, make_user):
        make_user("alice", locale="ru")
        here = log_in(app)
        log_in(app, SAFARI_IPHONE)
        [_, phone] = sessions_of(db, db.session.scalar(select(User)))
        set_last_seen(db, phone.id, timedelta(minutes=7))
        html = here.get("/settings/sessions").get_data(as_text=True)
        assert '<html lang="ru"' in html
        for text in ("<h1>Сеансы</h1>", "Где выполнен вход", "Firefox на Linux", "Это устройство",
                     "Активен сейчас", "Safari на iOS", "Активность: ", "7 минут назад",
                     "Выйти из всех других сеансов", ">Выйти</button>"):
            assert text in html, text
        response = here.post(f"/settings/sessions/{phone.id}/sign-out", headers=HX)
        assert "Сеанс завершён." in response.get_data(as_text=True)


@pytest.mark.parametrize("user_agent, expected", [
    (FIREFOX_LINUX, ("Firefox", "Linux")),
    (SAFARI_IPHONE, ("Safari", "iOS")),
    (CHROME_WINDOWS, ("Chrome", "Windows")),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Safari/605.1.15", ("Safari", "macOS")),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Mobile Safari/537.36", ("Chrome", "Android")),
    (CHROME_WINDOWS + " Edg/131.0.0.0", ("Edge", "Windows")),
    (CHROME_WINDOWS + " YaBrowser/24.10.0.0", ("Yandex Browser", "Windows")),
    (CHROME_WINDOWS + " OPR/114.0.0.0", ("Opera", "Windows")),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/131.0.0.0 Safari/537.36", ("Chrome", "Linux")),
    ("curl/8.5.0", (None, None)),
])
def test_device_names(user_agent, expected):
    assert browser_and_system(user_agent) == expected


class TestCaching:
    @pytest.mark.parametrize("url, headers", [
        ("/", {}), ("/settings", {}), ("/settings/sessions", HX), ("/coffees", {}),
        ("/users/alice", {})])
    def test_pages_for_a_logged_in_user_are_not_stored(self, logged_in, url, headers):
        response = logged_in.get(url, headers=headers)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"

    @pytest.mark.parametrize("url", ["/", "/coffees", "/users/alice", "/auth/login"])
    def test_anonymous_pages_are_unaffected(self, client, user, url):
        response = client.get(url)
        assert response.status_code == 200 and "no-store" not in response.headers.get("Cache-Control", "")

    def test_log_out_clears_the_browsers_cache_and_storage(self, logged_in):
        response = logged_in.post("/auth/logout", headers=HX_BOOSTED)
        assert response.status_code == 303
        assert response.headers["Clear-Site-Data"] == '"cache", "storage"'
        assert response.headers["Cache-Control"] == "no-store"

    def test_logged_in_pages_keep_out_of_htmx_history(self, logged_in, client):
        assert b'hx-history="false"' in logged_in.get("/settings").data
        assert b'hx-history="false"' in logged_in.get("/coffees", headers=HX_BOOSTED).data
        logged_in.post("/auth/logout")
        assert b'hx-history' not in client.get("/").data


class TestHeaders:
    def test_hsts_only_over_https(self, client):
        assert "Strict-Transport-Security" not in client.get("/").headers
        secure = client.get("/", base_url="https://localhost")
        assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"

    def test_csp_connects_only_to_this_site(self, client):
        policy = client.get("/").headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["connect-src"] == "'self'"

    def test_permissions_policy_denies_powerful_features(self, client):
        policy = client.get("/").headers["Permissions-Policy"]
        features = dict(item.strip().split("=") for item in policy.split(","))
        for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
            assert features[feature] == "()", feature
