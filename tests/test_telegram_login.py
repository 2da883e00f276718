"""Log in with Telegram: the Login Widget's signed answer (good, tampered, forged, old,
ahead, unsigned, malformed), a linked account logging in, an unlinked one offered
sign-up or linking, the widget's CSP on the log-in page only, and the flow without
JavaScript end to end with the real bot against the fake Bot API (confirm, decline,
reuse, expiry, another browser, parallel continues on a running server)."""
import re
import time
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select, update

from tests.conftest import HX, HX_BOOSTED, PASSWORD
from tests.fixtures.catalog_caches import _free_port
from tests.fixtures.chat_servers import csrf_token
from tests.test_bot import ANA, BORIS, TOKEN, bot_process, tg  # noqa: F401 (fixtures)
from webapp import security
from webapp.auth.telegram import WIDGET_CSP
from webapp.extensions import db
from webapp.models import TelegramLink, TelegramToken, User, UserSession
from webapp.models.base import utcnow
from webapp.services import telegram
from webapp.services import telegram_login as service
from webapp.services.telegram_login import Identity

BOT = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BOT_USERNAME": "crema_test_bot"}
RU = {"Accept-Language": "ru-RU,ru;q=0.9"}
DEEP_LINK = re.compile(r'href="https://t\.me/crema_test_bot\?start=login_([A-Za-z0-9_-]+)"')


@pytest.fixture
def with_bot(app):
    app.config.update(BOT)
    return app


def text(response) -> str:
    return response.get_data(as_text=True)


def signed(bot_token: str = TOKEN, **fields) -> dict:
    """A widget answer for Telegram user ANA, signed for ``bot_token``."""
    answer = {"id": str(ANA), "first_name": "Ana", "last_name": "Lima", "username": "ana_tg",
              "photo_url": "https://t.me/i/userpic/320/ana.jpg",
              "auth_date": str(int(time.time())), **fields}
    return {**answer, "hash": service.widget_hash(answer, bot_token)}


def sessions_of(user_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(UserSession)
                             .where(UserSession.user_id == user_id))


def all_sessions() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(UserSession))


def link(user, telegram_id: int = ANA) -> None:
    service.link_identity(user.id, Identity(telegram_id, "Ana", "", "ana_tg", int(time.time())))


def link_of(user_id: int) -> TelegramLink | None:
    db.session.expire_all()
    return telegram.link_of(user_id)


def whoami(client) -> str | None:
    """The username the client is logged in as (the nav's profile link), or None."""
    found = re.search(r'<a href="/users/([^"]+)" class="nav-user">', text(client.get("/")))
    return found.group(1) if found else None


# The widget's answer -----------------------------------------------------------------------

class TestWidgetHash:
    def test_the_check_string_is_the_sorted_fields_without_the_hash(self):
        assert service.data_check_string({"id": "1", "auth_date": "9", "hash": "x",
                                          "first_name": "A"}) == "auth_date=9\nfirst_name=A\nid=1"

    def test_a_good_answer_vouches_for_its_user(self):
        identity = service.verify_widget(signed(), TOKEN)
        assert (identity.id, identity.name, identity.username) == (ANA, "Ana Lima", "ana_tg")

    @pytest.mark.parametrize("field, value", [("id", "5002"), ("username", "boris"),
                                              ("auth_date", str(int(time.time()) - 1))])
    def test_a_tampered_field_is_forged(self, field, value):
        answer = {**signed(), field: value}
        with pytest.raises(service.WidgetError) as refused:
            service.verify_widget(answer, TOKEN)
        assert (refused.value.reason, refused.value.status) == ("forged", 403)

    def test_another_bots_signature_is_forged(self):
        with pytest.raises(service.WidgetError, match="did not pass our check"):
            service.verify_widget(signed("654321:another-bot"), TOKEN)

    def test_a_day_old_answer_is_refused(self):
        answer = signed(auth_date=str(int(time.time()) - 24 * 3600 - 60))
        with pytest.raises(service.WidgetError) as refused:
            service.verify_widget(answer, TOKEN)
        assert (refused.value.reason, refused.value.status) == ("old", 403)

    def test_an_answer_from_the_future_is_refused_beyond_a_small_skew(self):
        service.verify_widget(signed(auth_date=str(int(time.time()) + 60)), TOKEN)
        with pytest.raises(service.WidgetError) as refused:
            service.verify_widget(signed(auth_date=str(int(time.time()) + 3600)), TOKEN)
        assert refused.value.reason == "future"

    def test_an_unsigned_answer_is_refused(self):
        answer = signed()
        del answer["hash"]
        with pytest.raises(service.WidgetError) as refused:
            service.verify_widget(answer, TOKEN)
        assert (refused.value.reason, refused.value.status) == ("unsigned", 403)

    @pytest.mark.parametrize("change", [{"id": "ana"}, {"auth_date": "yesterday"},
                                        {"extra": "1"}, {"first_name": "A" * 600}])
    def test_a_malformed_answer_is_400(self, change):
        with pytest.raises(service.WidgetError) as refused:
            service.verify_widget({**signed(), **change}, TOKEN)
        assert (refused.value.reason, refused.value.status) == ("malformed", 400)


class TestWidgetCallback:
    def test_a_linked_account_logs_in_with_a_session_row(self, with_bot, client, user):
        link(user)
        client.get("/auth/login?next=/coffees")
        response = client.get("/auth/telegram/callback", query_string=signed())
        assert response.status_code == 303
        assert response.headers["Location"] == "/coffees"
        assert sessions_of(user.id) == 1
        assert whoami(client) == "alice"

    def test_log_out_everywhere_ends_a_telegram_session(self, with_bot, client, user):
        link(user)
        client.get("/auth/telegram/callback", query_string=signed())
        assert whoami(client) == "alice"
        db.session.execute(UserSession.__table__.delete())
        db.session.commit()
        assert whoami(client) is None

    @pytest.mark.parametrize("answer, status, words", [
        ({**signed(), "username": "boris"}, 403, "did not pass our check"),
        (signed("654321:another-bot"), 403, "did not pass our check"),
        (signed(auth_date=str(int(time.time()) - 2 * 24 * 3600)), 403, "more than a day old"),
        (signed(auth_date=str(int(time.time()) + 3600)), 403, "dated in the future"),
        ({k: v for k, v in signed().items() if k != "hash"}, 403, "not signed"),
        ({**signed(), "id": "-1"}, 400, "not a log-in answer"),
    ], ids=["tampered", "wrong-token", "old", "future", "unsigned", "malformed"])
    def test_a_bad_answer_is_refused_and_changes_nothing(self, with_bot, client, user, answer,
                                                         status, words):
        link(user)
        response = client.get("/auth/telegram/callback", query_string=answer)
        assert response.status_code == status
        assert words in text(response)
        assert all_sessions() == 0
        assert whoami(client) is None

    def test_a_field_sent_twice_is_400(self, with_bot, client, user):
        link(user)
        query = "&".join(f"{k}={v}" for k, v in signed().items()) + "&id=5002"
        assert client.get("/auth/telegram/callback?" + query).status_code == 400
        assert all_sessions() == 0

    def test_a_refusal_in_russian(self, with_bot, client):
        response = client.get("/auth/telegram/callback", query_string=signed("1:x"), headers=RU)
        assert response.status_code == 403
        assert "не прошёл нашу проверку" in text(response)

    def test_an_account_that_may_not_log_in_is_refused(self, with_bot, client, user,
                                                       monkeypatch):
        link(user)
        monkeypatch.setattr(User, "is_active", False)
        response = client.get("/auth/telegram/callback", query_string=signed())
        assert response.status_code == 403
        assert all_sessions() == 0

    def test_without_a_bot_there_is_no_callback(self, app, client):
        assert client.get("/auth/telegram/callback", query_string=signed()).status_code == 404


class TestUnlinkedAccount:
    def test_is_offered_sign_up_and_linked_after_it(self, with_bot, client, db):
        response = client.get("/auth/telegram/callback", query_string=signed())
        assert response.status_code == 303
        assert response.headers["Location"] == "/auth/telegram/unlinked"
        offer = client.get("/auth/telegram/unlinked")
        assert offer.status_code == 200
        assert "Welcome, Ana Lima" in text(offer) and 'id="telegram-sign-up"' in text(offer)
        assert all_sessions() == 0
        form = client.get("/auth/register")
        assert 'value="ana_tg"' in text(form)  # the username, prefilled from Telegram
        assert "Telegram account Ana Lima will be connected" in text(form)
        response = client.post("/auth/register", data={
            "username": "ana_tg", "email": "ana@example.com", "password": PASSWORD,
            "confirm": PASSWORD})
        assert response.status_code == 303
        ana = db.session.scalar(select(User).where(User.username == "ana_tg"))
        assert ana.display_name == "Ana Lima"
        assert (link_of(ana.id).telegram_id, link_of(ana.id).username) == (ANA, "ana_tg")
        assert sessions_of(ana.id) == 1
        client.post("/auth/logout")
        client.get("/auth/telegram/callback", query_string=signed())
        assert whoami(client) == "ana_tg"  # next time, Telegram alone logs in

    def test_may_log_in_with_a_password_and_link(self, with_bot, client, auth, user):
        client.get("/auth/telegram/callback", query_string=signed())
        assert "Telegram account Ana Lima will be connected" in text(client.get("/auth/login"))
        assert auth.login().status_code == 303
        assert link_of(user.id).telegram_id == ANA
        auth.logout()
        client.get("/auth/telegram/callback", query_string=signed())
        assert whoami(client) == "alice"

    def test_may_decline_linking(self, with_bot, client, auth, user):
        client.get("/auth/telegram/callback", query_string=signed())
        assert client.post("/auth/telegram/forget").status_code == 303
        assert client.get("/auth/telegram/unlinked").status_code == 400
        auth.login()
        assert link_of(user.id) is None

    def test_the_offer_needs_a_verified_identity_in_this_session(self, with_bot, client, user):
        response = client.get("/auth/telegram/unlinked", query_string=signed())
        assert response.status_code == 400
        assert "No log-in with Telegram is waiting here" in text(response)
        assert "Telegram account" not in text(client.get("/auth/register"))

    def test_a_day_old_identity_in_the_session_is_not_linked(self, with_bot, client, auth,
                                                             user, monkeypatch):
        client.get("/auth/telegram/callback", query_string=signed())
        later = time.time() + 24 * 3600 + 60
        monkeypatch.setattr(service.time, "time", lambda: later)
        auth.login()
        assert link_of(user.id) is None

    def test_a_telegram_account_linked_meanwhile_elsewhere_is_not_moved(self, with_bot, client,
                                                                       auth, user, make_user):
        client.get("/auth/telegram/callback", query_string=signed())
        bob = make_user("bob")
        link(bob)
        response = auth.login()
        assert response.status_code == 303  # the log-in itself goes ahead
        assert link_of(user.id) is None and link_of(bob.id).telegram_id == ANA

    def test_the_offer_in_russian(self, with_bot, client):
        client.get("/auth/telegram/callback", query_string=signed())
        offer = client.get("/auth/telegram/unlinked", headers=RU)
        assert "Создать аккаунт Crema" in text(offer)


# The widget on the log-in page, and the CSP -------------------------------------------------

class TestLoginPage:
    def test_the_widget_and_the_no_script_button_when_configured(self, with_bot, client):
        page = text(client.get("/auth/login"))
        assert ('src="https://telegram.org/js/telegram-widget.js?22"' in page
                and 'data-telegram-login="crema_test_bot"' in page
                and 'data-auth-url="http://localhost/auth/telegram/callback"' in page)
        assert 'action="/auth/telegram/start"' in page

    def test_the_login_page_alone_allows_telegram(self, with_bot, client, make_user):
        csp = client.get("/auth/login").headers["Content-Security-Policy"]
        assert csp == WIDGET_CSP
        assert "script-src 'self' https://telegram.org;" in csp
        assert "frame-src https://oauth.telegram.org" in csp
        assert "frame-ancestors 'none'" in csp and "connect-src 'self'" in csp
        client.post("/auth/telegram/start")
        for url in ("/", "/auth/register", "/coffees", "/auth/password/forgot",
                    "/auth/telegram/wait"):
            response = client.get(url)
            assert response.status_code == 200, url
            assert response.headers["Content-Security-Policy"] == security.CSP, url
            assert "telegram.org" not in response.headers["Content-Security-Policy"]

    def test_a_refused_login_form_keeps_the_widget_csp(self, with_bot, client):
        response = client.post("/auth/login", data={"login": "nobody", "password": "x"})
        assert response.status_code == 422
        assert response.headers["Content-Security-Policy"] == WIDGET_CSP

    def test_without_a_bot_no_widget_and_the_strict_csp(self, app, client):
        response = client.get("/auth/login")
        assert response.headers["Content-Security-Policy"] == security.CSP
        assert "telegram" not in text(response).lower()
        assert client.post("/auth/telegram/start").status_code == 404

    def test_a_boosted_visit_becomes_a_full_page_load(self, with_bot, client):
        response = client.get("/auth/login?next=/coffees", headers=HX_BOOSTED)
        assert response.status_code == 204
        assert response.headers["HX-Redirect"] == "/auth/login?next=/coffees"

    def test_the_section_in_russian(self, with_bot, client):
        page = text(client.get("/auth/login", headers=RU))
        assert "Войти через Telegram" in page


# Without JavaScript: a one-time link to the bot ---------------------------------------------

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"


def start(client, next_url: str = "") -> str:
    """Press "Log in with Telegram" (no JavaScript); the token in the waiting page's link."""
    response = client.post("/auth/telegram/start", data={"next": next_url},
                           headers={"User-Agent": FIREFOX},
                           environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/auth/telegram/wait"
    page = client.get("/auth/telegram/wait")
    assert page.status_code == 200
    found = DEEP_LINK.search(text(page))
    assert found, text(page)[:3000]
    return found.group(1)


def token_row(token: str) -> TelegramToken:
    db.session.expire_all()
    return db.session.scalar(select(TelegramToken).where(
        TelegramToken.token_hash == telegram.hash_token(token)))


class TestWaitingPage:
    def test_the_link_fits_telegrams_start_payload(self, with_bot, client):
        token = start(client)
        payload = service.START_PREFIX + token
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", payload)
        row = token_row(token)
        assert (row.purpose, row.user_id, row.telegram_id, row.used_at) == ("login", None, None, None)
        page = text(client.get("/auth/telegram/wait"))
        assert '<svg role="img" aria-label="QR code of the log-in link' in page
        assert 'hx-get="/auth/telegram/status" hx-trigger="every 2s"' in page
        assert "I&#39;ve confirmed — continue" in page or "I've confirmed — continue" in page

    def test_continue_before_confirming_shows_the_page_again(self, with_bot, client, user):
        token = start(client)
        response = client.post("/auth/telegram/continue")
        assert response.status_code == 200
        assert "Telegram has not confirmed yet" in text(response)
        assert token_row(token).used_at is None and all_sessions() == 0

    def test_confirmed_signs_in_once_and_goes_where_asked(self, with_bot, client, user):
        link(user)
        token = start(client, next_url="/coffees")
        service.confirm_login(token, ANA)
        response = client.post("/auth/telegram/continue")
        assert response.status_code == 303 and response.headers["Location"] == "/coffees"
        assert sessions_of(user.id) == 1 and token_row(token).used_at is not None
        again = client.post("/auth/telegram/continue")
        assert again.status_code == 400 and sessions_of(user.id) == 1

    def test_an_offsite_next_is_not_followed(self, with_bot, client, user):
        link(user)
        service.confirm_login(start(client, next_url="https://evil.example/"), ANA)
        assert client.post("/auth/telegram/continue").headers["Location"] == "/"

    def test_the_status_in_both_renders(self, with_bot, client, user):
        link(user)
        token = start(client)
        waiting = client.get("/auth/telegram/status", headers=HX)
        assert waiting.status_code == 200 and text(waiting).strip().startswith('<p id="telegram-login-status"')
        assert 'hx-trigger="every 2s"' in text(waiting)
        service.confirm_login(token, ANA)
        confirmed = text(client.get("/auth/telegram/status", headers=HX))
        assert 'hx-post="/auth/telegram/continue" hx-trigger="load"' in confirmed
        assert all_sessions() == 0  # the status only says so; the POST signs in
        full = client.get("/auth/telegram/status")
        assert full.status_code == 302 and full.headers["Location"] == "/auth/telegram/wait"
        signed_in = client.post("/auth/telegram/continue", headers=HX)
        assert signed_in.status_code == 204 and signed_in.headers["HX-Redirect"] == "/"

    def test_an_expired_link_is_refused(self, with_bot, client, user):
        link(user)
        token = start(client)
        service.confirm_login(token, ANA)
        db.session.execute(update(TelegramToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        status = text(client.get("/auth/telegram/status", headers=HX))
        assert "has expired" in status and "every 2s" not in status
        response = client.post("/auth/telegram/continue")
        assert response.status_code == 400 and "has expired" in text(response)
        assert all_sessions() == 0

    def test_another_browser_cannot_use_the_link(self, with_bot, app, client, user):
        link(user)
        token = start(client)
        service.confirm_login(token, ANA)
        stranger = app.test_client()
        for attempt in (stranger.post("/auth/telegram/continue", data={"token": token}),
                        stranger.get("/auth/telegram/wait", query_string={"token": token})):
            assert attempt.status_code == 400
            assert "No log-in with Telegram was started in this browser" in text(attempt)
        start(stranger)  # a link of its own does not make the other one its own
        assert stranger.post("/auth/telegram/continue").status_code == 200
        assert all_sessions() == 0 and token_row(token).used_at is None
        assert client.post("/auth/telegram/continue").status_code == 303
        assert sessions_of(user.id) == 1 and whoami(stranger) is None

    def test_a_newer_link_replaces_this_browsers_earlier_one(self, with_bot, client, user):
        link(user)
        first = start(client)
        start(client)
        service.confirm_login(first, ANA)
        assert client.post("/auth/telegram/continue").status_code == 200  # the newer waits
        assert all_sessions() == 0

    def test_links_are_rate_limited_per_ip(self, with_bot, app, client):
        app.config["RATE_LIMITS"]["telegram-login-ip"] = "2 per hour"
        before = db.session.scalar(select(func.count()).select_from(TelegramToken))
        start(client)
        start(client)
        response = client.post("/auth/telegram/start",
                               environ_base={"REMOTE_ADDR": "203.0.113.7"})
        assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
        assert "Too many log-in links from your network" in text(response)
        assert db.session.scalar(select(func.count()).select_from(TelegramToken)) == before + 2
        elsewhere = client.post("/auth/telegram/start",
                                environ_base={"REMOTE_ADDR": "198.51.100.1"})
        assert elsewhere.status_code == 303  # another network is not held back

    def test_the_waiting_page_in_russian(self, with_bot, client):
        start(client)
        page = text(client.get("/auth/telegram/wait", headers=RU))
        assert "Ждём вашего подтверждения в Telegram…" in page

    @pytest.mark.parametrize("method, url", [("GET", "/auth/telegram/wait"),
                                             ("GET", "/auth/telegram/status"),
                                             ("POST", "/auth/telegram/continue"),
                                             ("GET", "/auth/telegram/unlinked"),
                                             ("POST", "/auth/telegram/forget")])
    def test_without_a_bot_every_route_is_404(self, app, client, method, url):
        assert client.open(url, method=method).status_code == 404


# The real bot -------------------------------------------------------------------------------

def ask(tg, payload: str, user_id: int = ANA, **who) -> dict:
    """Send ``/start <payload>`` as ``user_id``; the bot's answer (text, reply_markup)."""
    before = len([p for p in tg.sent() if str(p["chat_id"]) == str(user_id)])
    tg.push_message(f"/start {payload}", user_id=user_id, **who)
    return tg.wait_for_reply(user_id, before + 1)[before]


def button(answer: dict, n: int) -> str:
    """The callback data of the answer's ``n``-th inline button (0: Yes, 1: No)."""
    return answer["reply_markup"]["inline_keyboard"][0][n]["callback_data"]


def tap(tg, data: str, user_id: int, message_id: int) -> str:
    """Tap an inline button; the text the bot edits its question into."""
    before = len(tg.calls_of("editMessageText"))
    tg.push_callback(data, user_id=user_id, message_id=message_id)
    edits = tg.wait_for("editMessageText", before + 1)
    return edits[before].params["text"]


class TestWithTheBot:
    def test_confirm_in_telegram_then_continue(self, with_bot, client, tg, user):
        link(user)
        token = start(client, next_url="/coffees")
        asked = ask(tg, f"login_{token}")
        assert asked["text"] == ("A browser (Firefox on Linux, address 203.0.113.7) asks to log "
                                 "in to Crema (crema.example) as @alice. "
                                 "Was it you? If you did not ask, press No.")
        buttons = asked["reply_markup"]["inline_keyboard"][0]
        assert [b["text"] for b in buttons] == ["Yes, log me in", "No"]
        assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
        assert all_sessions() == 0
        edited = tap(tg, button(asked, 0), ANA, 1)
        assert edited == "Done: go back to your browser, it logs you in as @alice."
        assert 'hx-trigger="load"' in text(client.get("/auth/telegram/status", headers=HX))
        response = client.post("/auth/telegram/continue")
        assert response.status_code == 303 and response.headers["Location"] == "/coffees"
        assert sessions_of(user.id) == 1

    def test_the_question_in_russian(self, with_bot, client, tg, make_user):
        link(make_user("alice", locale="ru"))
        token = start(client)
        asked = ask(tg, f"login_{token}", language_code="en")
        assert asked["text"].startswith(
            "Браузер (Firefox на Linux, адрес 203.0.113.7) просит войти в Crema (crema.example) "
            "как @alice.")
        assert [b["text"] for b in asked["reply_markup"]["inline_keyboard"][0]] == [
            "Да, войти", "Нет"]

    def test_no_spends_the_link(self, with_bot, client, tg, user):
        link(user)
        token = start(client)
        assert tap(tg, button(ask(tg, f"login_{token}"), 1), ANA, 1) == "All right: nobody was logged in."
        assert "declined in Telegram" in text(client.get("/auth/telegram/status", headers=HX))
        response = client.post("/auth/telegram/continue")
        assert response.status_code == 400 and "declined in Telegram" in text(response)
        assert all_sessions() == 0

    def test_an_unlinked_telegram_account_is_told_to_link_first(self, with_bot, client, tg, user):
        token = start(client)
        assert ask(tg, f"login_{token}", user_id=BORIS)["text"] == (
            "This Telegram account is not connected to a Crema account. Log in with your "
            "password and connect Telegram in Settings → Telegram first.")
        row = token_row(token)
        assert (row.telegram_id, row.used_at) == (None, None)

    def test_a_used_link_and_a_second_tap_are_refused(self, with_bot, client, tg, user):
        link(user)
        token = start(client)
        yes = button(ask(tg, f"login_{token}"), 0)
        tap(tg, yes, ANA, 1)
        assert client.post("/auth/telegram/continue").status_code == 303
        assert tap(tg, yes, ANA, 1) == ("This log-in link was used already. Start again from "
                                        "the log-in page.")
        assert ask(tg, f"login_{token}")["text"].startswith("This log-in link was used already.")
        assert sessions_of(user.id) == 1

    def test_an_expired_or_unknown_link(self, with_bot, client, tg, user):
        link(user)
        token = start(client)
        db.session.execute(update(TelegramToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert "has expired" in ask(tg, f"login_{token}")["text"]
        assert ask(tg, "login_not-a-token")["text"] == (
            "This log-in link is not known. Start again from the log-in page.")
        assert token_row(token).telegram_id is None


# Parallel continues on a running server -------------------------------------------------------

def test_parallel_continues_log_in_once(with_bot, user, gunicorn_env, start_gunicorn):
    """One browser pressing Continue eight times at once (two worker processes) gets
    one log-in: one session row, one 303, and 400s."""
    from tests.test_concurrency import in_parallel

    link(user)
    env = {**gunicorn_env, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BOT_USERNAME": "crema_test_bot",
           "WEB_CONCURRENCY": "2"}
    server = start_gunicorn(_free_port(), env)
    browser = requests.Session()
    csrf = csrf_token(browser.get(f"{server.url}/auth/login", timeout=30).text)
    waiting = browser.post(f"{server.url}/auth/telegram/start", data={"csrf_token": csrf},
                           timeout=30)
    assert waiting.status_code == 200, waiting.text
    token = DEEP_LINK.search(waiting.text).group(1)
    service.confirm_login(token, ANA)
    cookies = browser.cookies.get_dict()
    browser.close()

    def press():
        return requests.post(f"{server.url}/auth/telegram/continue", cookies=cookies,
                             data={"csrf_token": csrf}, allow_redirects=False, timeout=30)

    statuses = sorted(r.status_code for r in in_parallel([press] * 8))
    assert statuses == [303] + [400] * 7
    assert sessions_of(user.id) == 1


def test_a_claim_that_loses_the_race_logs_in_nobody(with_bot, user, monkeypatch):
    """Another request spends the token between this one's look and its claim: this
    one logs nobody in (the claim is one conditional UPDATE)."""
    link(user)
    token = service.new_login_token()
    service.confirm_login(token, ANA)
    looked = service.login_state

    def then_another_request_claims(found):
        state = looked(found)
        with db.engine.begin() as other:
            other.execute(update(TelegramToken).values(used_at=utcnow()))
        return state

    monkeypatch.setattr(service, "login_state", then_another_request_claims)
    with pytest.raises(service.LoginError, match="used already"):
        service.claim_login(token)
