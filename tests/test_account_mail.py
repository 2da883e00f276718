"""Account mail: a forgotten password (a mailed reset link) and confirming one's email
address, through a real SMTP server (tests/fixtures/smtp.py).

The module's app is the embedded one (no Redis), where a job runs at once, so a mail is
in the mailbox (or not) when the request that asked for it has its answer; the last
test sends a reset mail from a real ``python -m worker`` process on Redis.
"""
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from itsdangerous.timed import TimestampSigner
from rq import Queue
from sqlalchemy import func, select

from tests.conftest import HX, PASSWORD, clean_up, make_app
from tests.fixtures.embedded import embedded_app  # noqa: F401 (this module's app)
from tests.fixtures.smtp import body
from webapp import jobs
from webapp.extensions import db
from webapp.models import Delivery, User, UserSession
from webapp.models.base import utcnow
from webapp.services import account_mail

ROOT = Path(__file__).resolve().parent.parent
NEW_PASSWORD = "a-brand-new-password"
FORGOT = "/auth/password/forgot"
RU = {"Accept-Language": "ru-RU,ru;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
NEUTRAL = b"If a Crema account uses"


def forgot(client, address, headers=None, ip="10.0.0.1"):
    return client.post(FORGOT, data={"email": address}, headers=headers or {},
                       environ_base={"REMOTE_ADDR": ip})


def without_csrf(page: bytes) -> bytes:
    """A page without its CSRF tokens, which are signed with the time of the request."""
    return re.sub(rb'(name="csrf_token" value="|"X-CSRFToken": ")[^"]+', rb"\1", page)


def link_in(msg) -> str:
    """The path of the one link in a mail; the HTML body carries the same link."""
    urls = set(re.findall(r"https?://\S+", body(msg, "plain")))
    assert len(urls) == 1, urls
    url = urls.pop()
    assert f'href="{url}"' in body(msg, "html")
    return urlsplit(url).path


def reset(client, path, password=NEW_PASSWORD, confirm=None, headers=None):
    return client.post(path, data={"password": password, "confirm": confirm or password},
                       headers=headers or {})


def fresh(user_id: int) -> User:
    db.session.expire_all()
    return db.session.get(User, user_id)


def can_log_in(app, login, password) -> bool:
    response = app.test_client().post("/auth/login", data={"login": login, "password": password})
    return response.status_code == 303


def logged_in_client(app, login="alice"):
    client = app.test_client()
    assert client.post("/auth/login", data={"login": login, "password": PASSWORD}).status_code == 303
    return client


def is_logged_in(client) -> bool:
    return client.get("/settings").status_code == 200


def made_seconds_ago(monkeypatch, seconds, make):
    """``make()`` with itsdangerous's clock ``seconds`` behind (a link made back then)."""
    with monkeypatch.context() as m:
        m.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - seconds)
        return make()


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def reset_link(client, mailbox, alice):
    """The path of the reset link mailed to alice."""
    assert forgot(client, "alice@example.com").status_code == 200
    return link_in(mailbox.wait_for(1)[0])


class TestForgotPage:
    def test_the_log_in_page_links_to_it(self, client):
        page = client.get("/auth/login").get_data(as_text=True)
        assert f'href="{FORGOT}"' in page and "Forgot your password?" in page

    def test_page_and_fragment(self, client):
        page = client.get(FORGOT)
        assert page.status_code == 200
        assert b"<html" in page.data and b'id="forgot-password-form"' in page.data
        fragment = client.get(FORGOT, headers=HX)
        assert fragment.status_code == 200
        assert b"<html" not in fragment.data and b'id="forgot-password-form"' in fragment.data

    def test_the_answer_in_both_renders(self, client, mailbox, alice):
        page = forgot(client, "alice@example.com")
        assert page.status_code == 200 and b"<html" in page.data and NEUTRAL in page.data
        fragment = forgot(client, "alice@example.com", headers=HX)
        assert fragment.status_code == 200
        assert b"<html" not in fragment.data and NEUTRAL in fragment.data
        assert b"The link works for 1 hour." in fragment.data

    def test_an_unknown_address_gets_the_same_answer_and_no_mail(self, client, mailbox, alice):
        unknown = forgot(client, "nobody@example.com")
        known = forgot(client, "Alice@Example.com ")
        assert unknown.status_code == known.status_code == 200
        unknown_page = without_csrf(unknown.data).replace(b"nobody@", b"alice@")
        assert unknown_page == without_csrf(known.data)
        messages = mailbox.wait_for(1)
        assert len(messages) == 1 and messages[0]["To"] == "alice@example.com"

    @pytest.mark.parametrize("address, message", [
        ("", b"This field is required."), ("not-an-email", b"Invalid email address."),
        ("a" * 250 + "@example.com", b"longer than 254")])
    def test_a_bad_address_is_422_inline_and_mails_nothing(self, client, mailbox, address,
                                                           message):
        response = forgot(client, address)
        assert response.status_code == 422
        assert message in response.data and b'aria-invalid="true"' in response.data
        assert mailbox.messages == []

    def test_too_many_requests_from_one_ip_is_429(self, app, client, mailbox, alice):
        app.config["RATE_LIMITS"]["password-reset-ip"] = "2 per hour"
        assert forgot(client, "nobody@example.com").status_code == 200
        assert forgot(client, "not-an-email").status_code == 422  # refused ones count too
        response = forgot(client, "alice@example.com")
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0
        assert b"Too many password reset requests from your network" in response.data
        fragment = forgot(client, "alice@example.com", headers=HX)
        assert fragment.status_code == 429 and b"<html" not in fragment.data
        assert mailbox.messages == []
        assert forgot(client, "alice@example.com", ip="10.0.0.2").status_code == 200
        assert len(mailbox.wait_for(1)) == 1

    def test_past_the_limit_per_address_the_answer_is_the_same_and_no_mail_goes(
            self, app, client, mailbox, alice, make_user):
        make_user("bob")
        app.config["RATE_LIMITS"]["password-reset-account"] = "1 per hour"
        first = forgot(client, "alice@example.com", ip="10.0.0.1")
        second = forgot(client, "ALICE@example.com", ip="10.0.0.2")
        assert first.status_code == second.status_code == 200
        assert without_csrf(first.data) == without_csrf(second.data)
        assert forgot(client, "bob@example.com", ip="10.0.0.3").status_code == 200
        assert [m["To"] for m in mailbox.wait_for(2)] == ["alice@example.com", "bob@example.com"]


class TestResetMail:
    def test_the_mail_has_text_and_html_and_the_link(self, client, mailbox, alice):
        forgot(client, "alice@example.com")
        msg = mailbox.wait_for(1)[0]
        assert msg["To"] == "alice@example.com"
        assert msg["Subject"] == "Reset your Crema password"
        assert msg["Auto-Submitted"] == "auto-generated"
        assert "Crema account alice" in body(msg, "plain")
        assert "The link works for 1 hour, and only once." in body(msg, "plain")
        assert '<html lang="en">' in body(msg, "html")
        assert "Choose a new password</a>" in body(msg, "html")
        assert link_in(msg).startswith("/auth/password/reset/")

    def test_a_russian_user_gets_it_in_russian(self, client, mailbox, make_user):
        make_user("ivan", locale="ru")
        forgot(client, "ivan@example.com", headers=EN)
        msg = mailbox.wait_for(1)[0]
        assert msg["Subject"] == "Сброс пароля в Crema"
        assert "Кто-то (скорее всего, вы) запросил сброс пароля" in body(msg, "plain")
        assert "Ссылка действует 1 час и только один раз." in body(msg, "plain")
        assert '<html lang="ru">' in body(msg, "html")
        assert "Выберите новый пароль</a>" in body(msg, "html")

    def test_without_a_language_of_their_own_the_request_language_is_used(
            self, client, mailbox, alice):
        forgot(client, "alice@example.com", headers=RU)
        assert mailbox.wait_for(1)[0]["Subject"] == "Сброс пароля в Crema"

    def test_each_request_sends_its_own_mail(self, client, mailbox, alice):
        forgot(client, "alice@example.com")
        forgot(client, "alice@example.com")
        first, second = mailbox.wait_for(2)
        assert first["Message-ID"] != second["Message-ID"]

    def test_a_retried_job_sends_no_second_mail(self, app, mailbox, alice):
        nonce = account_mail.new_nonce()
        mailbox.refuse = 1  # the first try fails, as a job RQ tries again
        with pytest.raises(Exception, match="451"):
            account_mail.send_password_reset("alice@example.com", nonce, None)
        assert db.session.scalar(select(func.count(Delivery.id))) == 0
        account_mail.send_password_reset("alice@example.com", nonce, None)
        account_mail.send_password_reset("alice@example.com", nonce, None)
        assert len(mailbox.wait_for(1)) == 1
        time.sleep(0.2)
        assert len(mailbox.messages) == 1


class TestResetLink:
    def test_it_sets_the_password_ends_every_session_and_logs_this_browser_in(
            self, app, client, reset_link, alice):
        elsewhere = logged_in_client(app)
        page = client.get(reset_link)
        assert page.status_code == 200
        assert b"<html" in page.data and b'id="reset-password-form"' in page.data
        assert b"For the account alice." in page.data
        response = reset(client, reset_link)
        assert response.status_code == 303 and response.headers["Location"] == "/"
        assert b"Your password has been changed" in client.get("/").data
        assert is_logged_in(client) and not is_logged_in(elsewhere)
        assert db.session.scalar(select(func.count(UserSession.id))) == 1
        assert can_log_in(app, "alice", NEW_PASSWORD)
        assert not can_log_in(app, "alice", PASSWORD)

    def test_it_confirms_the_address(self, client, reset_link, alice):
        assert alice.email_confirmed_at is None
        reset(client, reset_link)
        assert fresh(alice.id).email_confirmed_at is not None

    def test_both_renders(self, client, reset_link):
        fragment = client.get(reset_link, headers=HX)
        assert fragment.status_code == 200
        assert b"<html" not in fragment.data and b'id="reset-password-form"' in fragment.data
        refused = reset(client, reset_link, confirm="something-else-entirely", headers=HX)
        assert refused.status_code == 422 and b"<html" not in refused.data
        done = reset(client, reset_link, headers=HX)
        assert done.status_code == 204 and done.headers["HX-Redirect"] == "/"

    @pytest.mark.parametrize("password, confirm, message", [
        ("short", "short", b"Use between 10 and 256 characters."),
        (NEW_PASSWORD, "something-else-entirely", b"Passwords do not match."),
        ("", "", b"This field is required.")])
    def test_a_bad_password_is_422_inline_and_changes_nothing(self, app, client, reset_link,
                                                              alice, password, confirm, message):
        elsewhere = logged_in_client(app)
        response = reset(client, reset_link, password, confirm)
        assert response.status_code == 422
        assert message in response.data and b'aria-invalid="true"' in response.data
        assert fresh(alice.id).check_password(PASSWORD) and is_logged_in(elsewhere)
        assert client.get(reset_link).status_code == 200  # still usable

    def test_a_used_link_gets_a_clear_page_and_changes_nothing(self, app, client, reset_link,
                                                               alice):
        assert reset(client, reset_link).status_code == 303
        other = app.test_client()
        page = other.get(reset_link)
        assert page.status_code == 400
        assert b"This password reset link has already been used" in page.data
        assert f'href="{FORGOT}"'.encode() in page.data
        before = fresh(alice.id).password_hash
        again = reset(other, reset_link, "yet-another-password")
        assert again.status_code == 400 and not is_logged_in(other)
        assert fresh(alice.id).password_hash == before

    def test_a_link_made_before_another_one_was_used_is_dead(self, client, mailbox, alice):
        forgot(client, "alice@example.com")
        forgot(client, "alice@example.com")
        first, second = (link_in(m) for m in mailbox.wait_for(2))
        assert reset(client, second).status_code == 303
        assert client.get(first).status_code == 400

    def test_a_link_dies_when_the_address_changes(self, client, reset_link, alice):
        fresh(alice.id).email = "alice@elsewhere.example"
        db.session.commit()
        assert client.get(reset_link).status_code == 400

    def test_an_expired_link_gets_a_clear_page_and_changes_nothing(self, app, client,
                                                                   monkeypatch, alice):
        old = made_seconds_ago(monkeypatch, 3601, lambda: account_mail.reset_token(alice))
        page = client.get(f"/auth/password/reset/{old}")
        assert page.status_code == 400
        assert b"This password reset link has expired." in page.data
        assert reset(client, f"/auth/password/reset/{old}").status_code == 400
        assert fresh(alice.id).check_password(PASSWORD)
        recent = made_seconds_ago(monkeypatch, 3590, lambda: account_mail.reset_token(alice))
        assert client.get(f"/auth/password/reset/{recent}").status_code == 200

    def test_how_long_a_link_works_is_a_setting(self, app, client, monkeypatch, alice):
        app.config["PASSWORD_RESET_MAX_AGE"] = 60
        token = made_seconds_ago(monkeypatch, 61, lambda: account_mail.reset_token(alice))
        assert client.get(f"/auth/password/reset/{token}").status_code == 400

    def test_a_forged_link_gets_a_clear_page_in_both_renders(self, client, reset_link, alice):
        token = reset_link.rsplit("/", 1)[1]
        forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
        for bad in (forged, "nonsense", account_mail.confirm_token(alice)):
            page = client.get(f"/auth/password/reset/{bad}")
            assert page.status_code == 400 and b"<html" in page.data
            assert b"This link is not valid." in page.data
            assert reset(client, f"/auth/password/reset/{bad}").status_code == 400
        fragment = client.get("/auth/password/reset/nonsense", headers=HX)
        assert fragment.status_code == 400 and b"<html" not in fragment.data
        assert b"This link cannot be used" in fragment.data
        assert fresh(alice.id).check_password(PASSWORD)

    def test_someone_else_logged_in_here_ends_up_as_the_link_owner(self, app, reset_link,
                                                                   make_user):
        make_user("bob")
        bob = logged_in_client(app, "bob")
        assert reset(bob, reset_link).status_code == 303
        page = bob.get("/settings").get_data(as_text=True)
        assert 'href="/users/alice"' in page and 'href="/users/bob"' not in page


def sign_up(client, headers=None, **fields):
    data = {"username": "newbie", "email": "newbie@example.com", "password": PASSWORD,
            "confirm": PASSWORD, **fields}
    return client.post("/auth/register", data=data, headers=headers or {})


def newbie() -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.username == "newbie"))


class TestConfirmEmail:
    def test_sign_up_mails_a_confirmation_link(self, client, mailbox):
        response = sign_up(client)
        assert response.status_code == 303
        assert b"We sent a link to newbie@example.com" in client.get("/users/newbie").data
        msg = mailbox.wait_for(1)[0]
        assert msg["To"] == "newbie@example.com"
        assert msg["Subject"] == "Confirm your email address for Crema"
        assert "Please confirm that newbie@example.com is your email address" in body(msg)
        assert "The link works for 1 week." in body(msg)
        assert "Confirm my email address</a>" in body(msg, "html")
        assert link_in(msg).startswith("/auth/email/confirm/")
        assert newbie().email_confirmed_at is None

    def test_the_link_confirms_the_address_even_logged_out(self, app, client, mailbox):
        sign_up(client)
        link = link_in(mailbox.wait_for(1)[0])
        page = app.test_client().get(link)
        assert page.status_code == 200 and b"<html" in page.data
        assert b"Your email address is confirmed" in page.data
        confirmed_at = newbie().email_confirmed_at
        assert confirmed_at is not None
        again = client.get(link, headers=HX)
        assert again.status_code == 200 and b"<html" not in again.data
        assert b"Your email address was already confirmed" in again.data
        assert newbie().email_confirmed_at == confirmed_at

    def test_a_forged_link_gets_a_clear_page_and_changes_nothing(self, client, mailbox):
        sign_up(client)
        token = link_in(mailbox.wait_for(1)[0]).rsplit("/", 1)[1]
        user = newbie()
        for bad in (token[:-3] + "xyz", "nonsense", account_mail.reset_token(user)):
            page = client.get(f"/auth/email/confirm/{bad}")
            assert page.status_code == 400
            assert b"This link is not valid." in page.data
        fragment = client.get("/auth/email/confirm/nonsense", headers=HX)
        assert fragment.status_code == 400 and b"<html" not in fragment.data
        assert newbie().email_confirmed_at is None

    def test_a_link_to_an_address_no_longer_used_changes_nothing(self, client, mailbox):
        sign_up(client)
        link = link_in(mailbox.wait_for(1)[0])
        newbie().email = "newbie@elsewhere.example"
        db.session.commit()
        page = client.get(link)
        assert page.status_code == 400
        assert b"This link was sent to an address your account no longer uses." in page.data
        assert b'href="/settings"' in page.data
        assert newbie().email_confirmed_at is None

    def test_an_expired_link_changes_nothing(self, client, monkeypatch, alice):
        token = made_seconds_ago(monkeypatch, 7 * 24 * 3600 + 1,
                                 lambda: account_mail.confirm_token(alice))
        page = client.get(f"/auth/email/confirm/{token}")
        assert page.status_code == 400
        assert b"This confirmation link has expired." in page.data
        assert fresh(alice.id).email_confirmed_at is None

    def test_without_a_mail_server_the_mail_is_in_the_log_with_a_link_that_works(
            self, app, client, caplog):
        assert app.config["MAIL_SERVER"] is None  # the embedded default: make run
        with caplog.at_level(logging.WARNING, logger="webapp.mail"):
            sign_up(client)
        assert "To: newbie@example.com" in caplog.text
        link = re.search(r"http://\S+/auth/email/confirm/\S+", caplog.text).group(0)
        assert client.get(urlsplit(link).path).status_code == 200
        assert newbie().email_confirmed_at is not None

    def test_signing_up_in_russian_gets_the_mail_in_russian(self, client, mailbox):
        sign_up(client, headers=RU)
        msg = mailbox.wait_for(1)[0]
        assert msg["Subject"] == "Подтвердите адрес почты для Crema"
        assert "Срок действия ссылки: 1 неделя." in body(msg)


class TestResend:
    def test_settings_show_the_notice_until_the_address_is_confirmed(self, app, alice):
        client = logged_in_client(app)
        page = client.get("/settings").get_data(as_text=True)
        assert "Your email address, alice@example.com, is not confirmed yet." in page
        assert 'action="/auth/email/confirm/resend"' in page
        assert client.get("/settings", headers=HX).data.count(b'id="confirm-notice"') == 1
        client.get(f"/auth/email/confirm/{account_mail.confirm_token(alice)}")
        page = client.get("/settings").get_data(as_text=True)
        assert 'id="confirm-notice"' not in page and 'id="settings-form"' in page

    def test_it_mails_a_new_link_that_works(self, app, mailbox, alice):
        client = logged_in_client(app)
        response = client.post("/auth/email/confirm/resend")
        assert response.status_code == 303 and response.headers["Location"] == "/settings"
        assert b"We sent a new link to alice@example.com." in client.get("/settings").data
        link = link_in(mailbox.wait_for(1)[0])
        assert client.get(link).status_code == 200
        assert fresh(alice.id).email_confirmed_at is not None

    def test_htmx_gets_the_notice_back(self, app, mailbox, alice):
        client = logged_in_client(app)
        response = client.post("/auth/email/confirm/resend", headers=HX)
        assert response.status_code == 200 and b"<html" not in response.data
        assert b'id="confirm-notice"' in response.data
        assert b"We sent a new link to alice@example.com." in response.data
        assert len(mailbox.wait_for(1)) == 1

    def test_too_many_is_429_and_mails_nothing_more(self, app, mailbox, alice):
        app.config["RATE_LIMITS"]["confirm-resend"] = "1 per hour"
        client = logged_in_client(app)
        assert client.post("/auth/email/confirm/resend").status_code == 303
        for headers, full in (({}, True), (HX, False)):
            response = client.post("/auth/email/confirm/resend", headers=headers)
            assert response.status_code == 429
            assert int(response.headers["Retry-After"]) > 0
            assert b"You asked for several links already. Try again in 60 minutes." in response.data
            assert (b"<html" in response.data) is full
        assert len(mailbox.wait_for(1)) == 1
        time.sleep(0.2)
        assert len(mailbox.messages) == 1

    def test_a_confirmed_address_gets_no_mail(self, app, mailbox, alice):
        alice.email_confirmed_at = utcnow()
        db.session.commit()
        client = logged_in_client(app)
        response = client.post("/auth/email/confirm/resend")
        assert response.status_code == 303
        assert b"Your email address is already confirmed." in client.get("/settings").data
        fragment = client.post("/auth/email/confirm/resend", headers=HX)
        assert b"Your email address is already confirmed." in fragment.data
        assert mailbox.messages == []


# A real worker process ------------------------------------------------------------------

@pytest.fixture
def redis_app(database_url, _schema, shared_redis_url, smtp_server):
    app = make_app(database_url, REDIS_URL=shared_redis_url)
    smtp_server.clear()
    with app.app_context():
        yield app
        db.session.remove()
    smtp_server.clear()
    clean_up(app)


def test_a_real_worker_process_sends_the_reset_mail(redis_app, smtp_server, database_url):
    from webapp.services import users as user_service

    user_service.register_user("ana", "ana@example.com", PASSWORD)
    client = redis_app.test_client()
    assert forgot(client, "ana@example.com").status_code == 200
    queue = Queue(jobs.queue_name(redis_app), connection=jobs.connection(redis_app))
    assert queue.count == 1 and smtp_server.messages == []  # a job, not yet a mail
    env = {**os.environ, "DATABASE_URL": database_url,
           "REDIS_URL": redis_app.config["REDIS_URL"],
           "REDIS_PREFIX": redis_app.config["REDIS_PREFIX"],
           "SECRET_KEY": redis_app.config["SECRET_KEY"],
           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_server.port)}
    done = subprocess.run([sys.executable, "-m", "worker", "--burst"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    msg = smtp_server.wait_for(1)[0]
    assert msg["To"] == "ana@example.com"
    link = link_in(msg)
    assert client.get(link).status_code == 200
    assert reset(client, link).status_code == 303
    assert can_log_in(redis_app, "ana", NEW_PASSWORD)
