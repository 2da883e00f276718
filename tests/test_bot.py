"""The real bot process (``python -m bot``) against the fake Bot API (tests/fixtures/telegram.py):
linking, the commands in English and Russian, failures it rides out and those that stop it."""
import os
import secrets
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.fixtures.telegram import FakeBotAPI, serving
from webapp.extensions import db
from webapp.models import TelegramLink, TelegramToken
from webapp.models.base import utcnow
from webapp.services import telegram

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:bot-under-test"
BASE_URL = "https://crema.example"
ANA = 5001  # a Telegram user (and their private chat)
BORIS = 5002

WELCOME_EN = ("Hello! I'm Crema's bot: I bring Crema, the coffee-tasting community, to "
              "Telegram. To connect your account, open Settings → Telegram on the site "
              f"({BASE_URL}/settings/telegram) and press \"Connect Telegram\".")
HELP_EN = ("What I can do:\n/start — Connect your Crema account\n/help — What I can do\n"
           "/top — Top-rated coffees\n"
           "/search — Find coffees by name, roaster, origin or flavour\n"
           "/latest — The newest reviews\n/settings — Which notifications come to Telegram\n"
           "/unlink — Disconnect Telegram from your Crema account")
HELP_RU = ("Что я умею:\n/start — Подключить аккаунт Crema\n/help — Что я умею\n"
           "/top — Лучшие сорта кофе\n"
           "/search — Найти кофе по названию, обжарщику, стране или вкусу\n"
           "/latest — Новые отзывы\n/settings — Какие уведомления приходят в Telegram\n"
           "/unlink — Отключить Telegram от аккаунта Crema")
UNKNOWN_EN = "I don't know that; /help lists what I can do."
UNKNOWN_RU = "Этого я не знаю; /help — список того, что я умею."


def bot_env(database_url: str, api_url: str, token: str | None = TOKEN,
            username: str | None = "crema_test_bot") -> dict:
    return {**os.environ, "DATABASE_URL": database_url, "TELEGRAM_API_URL": api_url,
            "TELEGRAM_BOT_TOKEN": token or "", "TELEGRAM_BOT_USERNAME": username or "",
            "REDIS_URL": os.environ.get("TEST_REDIS_URL", ""),
            "REDIS_PREFIX": f"crema-test-bot-{secrets.token_hex(4)}:",
            "SECRET_KEY": "bot-test-secret-key", "BASE_URL": BASE_URL,
            # One Telegram user talks through a whole module; test_bot_commands tests it.
            "BOT_COMMAND_LIMIT": "10000 per minute",
            "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}


class BotProcess:
    """``python -m bot`` running, its output in a file."""

    def __init__(self, env: dict, log: Path) -> None:
        self.log = log
        self.out = open(log, "w")
        self.process = subprocess.Popen([sys.executable, "-m", "bot"], cwd=ROOT, env=env,
                                        stdout=self.out, stderr=subprocess.STDOUT)

    def output(self) -> str:
        self.out.flush()
        return self.log.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.out.close()


@pytest.fixture(scope="module")
def bot_process(database_url, _schema, telegram_server, tmp_path_factory):
    """One bot for the module's conversations (each test uses its own Telegram users'
    updates; update ids only grow, so a test never sees another's)."""
    bot = polling_bot(bot_env(database_url, telegram_server.url), telegram_server,
                      tmp_path_factory.mktemp("bot") / "bot.log")
    yield bot
    bot.stop()


def polling_bot(env: dict, server, log: Path) -> BotProcess:
    """``python -m bot`` started with ``env``, once it polls ``server`` (the fake Bot API)."""
    bot = BotProcess(env, log)
    try:
        server.wait_for("getUpdates", where=lambda c: c.token == env["TELEGRAM_BOT_TOKEN"],
                        timeout=60)
    except AssertionError:
        bot.stop()
        raise AssertionError("the bot never polled:\n" + bot.output()) from None
    return bot


@pytest.fixture
def tg(app, telegram_api, bot_process):
    """The fake Bot API with the running bot; the bot's output shown when a test fails."""
    yield telegram_api
    assert bot_process.process.poll() is None, "the bot died:\n" + bot_process.output()


def say(tg, text: str, user_id: int = ANA, **who) -> str:
    """Send ``text`` as ``user_id`` and return the bot's reply (the next one to that chat)."""
    before = len([p for p in tg.sent() if str(p["chat_id"]) == str(user_id)])
    tg.push_message(text, user_id=user_id, **who)
    return tg.wait_for_reply(user_id, before + 1)[before]["text"]


def link_row(user_id: int) -> TelegramLink | None:
    db.session.expire_all()
    return db.session.scalar(select(TelegramLink).where(TelegramLink.user_id == user_id))


def token_row(token: str) -> TelegramToken:
    db.session.expire_all()
    return db.session.scalar(select(TelegramToken).where(
        TelegramToken.token_hash == telegram.hash_token(token)))


class TestLinking:
    def test_a_good_token_links_and_greets_by_name(self, tg, make_user):
        alice = make_user("alice", display_name="Alice")
        token = telegram.new_token("link", alice.id)
        reply = say(tg, f"/start {token}", first_name="Ana", username="ana_tg")
        assert reply == "Hello, Alice! Your Telegram is now connected to Crema as @alice."
        row = link_row(alice.id)
        assert (row.telegram_id, row.chat_id, row.first_name, row.username, row.language_code) == (
            ANA, ANA, "Ana", "ana_tg", "en")
        assert token_row(token).used_at is not None
        keyboard = tg.sent()[-1]["reply_markup"]
        assert keyboard["keyboard"] == [[{"text": "Top"}, {"text": "Latest"}],
                                        [{"text": "Search"}, {"text": "Settings"}],
                                        [{"text": "Help"}]]

    def test_the_greeting_is_in_the_accounts_language(self, tg, make_user):
        alice = make_user("alice", locale="ru")
        token = telegram.new_token("link", alice.id)
        reply = say(tg, f"/start {token}", language_code="en")
        assert reply == "Привет, Ana! Ваш Telegram теперь подключён к Crema как @alice."
        assert tg.sent()[-1]["reply_markup"]["keyboard"] == [
            [{"text": "Лучшие"}, {"text": "Новое"}], [{"text": "Найти"}, {"text": "Настройки"}],
            [{"text": "Помощь"}]]

    def test_an_expired_token_is_refused_and_changes_nothing(self, tg, make_user):
        alice = make_user("alice")
        token = telegram.new_token("link", alice.id)
        db.session.execute(update(TelegramToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        reply = say(tg, f"/start {token}")
        assert reply == ("This link has expired (it works for 10 minutes). Open Settings → "
                         "Telegram on the site and connect again.")
        assert link_row(alice.id) is None
        assert token_row(token).used_at is None

    def test_an_expired_token_in_russian(self, tg, make_user):
        alice = make_user("alice")
        token = telegram.new_token("link", alice.id)
        db.session.execute(update(TelegramToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        reply = say(tg, f"/start {token}", language_code="ru")
        assert reply == ("Срок действия ссылки истёк (она действует 10 минут). Откройте на "
                         "сайте Настройки → Telegram и подключитесь снова.")
        assert link_row(alice.id) is None

    def test_a_used_token_is_refused(self, tg, make_user):
        alice = make_user("alice")
        token = telegram.new_token("link", alice.id)
        say(tg, f"/start {token}", user_id=ANA)
        reply = say(tg, f"/start {token}", user_id=BORIS)
        assert reply == ("This link was used already. Open Settings → Telegram on the site "
                         "and connect again.")
        assert link_row(alice.id).telegram_id == ANA

    def test_a_telegram_account_linked_elsewhere_is_refused(self, tg, make_user):
        bob = make_user("bob")
        say(tg, f"/start {telegram.new_token('link', bob.id)}", user_id=ANA)
        alice = make_user("alice")
        token = telegram.new_token("link", alice.id)
        reply = say(tg, f"/start {token}", user_id=ANA)
        assert reply == ("This Telegram account is already connected to another Crema "
                         "account. Disconnect it there first (/unlink).")
        assert link_row(alice.id) is None
        assert link_row(bob.id).telegram_id == ANA
        assert token_row(token).used_at is None  # alice may still use it elsewhere

    @pytest.mark.parametrize("language, expected", [
        ("en", "This link is not known. Open Settings → Telegram on the site and connect again."),
        ("ru", "Эта ссылка неизвестна. Откройте на сайте Настройки → Telegram и подключитесь снова.")])
    def test_an_unknown_token_is_refused(self, tg, make_user, language, expected):
        make_user("alice")
        assert say(tg, "/start not-a-token-at-all", language_code=language) == expected
        assert db.session.scalar(select(TelegramLink)) is None


class TestCommands:
    def test_start_without_a_token_says_what_the_bot_does_and_how_to_connect(self, tg):
        assert say(tg, "/start") == WELCOME_EN

    def test_start_without_a_token_in_russian(self, tg):
        reply = say(tg, "/start", language_code="ru")
        assert "Настройки → Telegram" in reply and f"{BASE_URL}/settings/telegram" in reply

    def test_start_when_linked_says_as_whom(self, tg, make_user):
        alice = make_user("alice")
        say(tg, f"/start {telegram.new_token('link', alice.id)}")
        assert say(tg, "/start") == ("Hello! This Telegram is connected to Crema as @alice. "
                                     "/help lists what I can do.")

    @pytest.mark.parametrize("language, expected", [("en", HELP_EN), ("ru", HELP_RU)])
    def test_help_lists_the_commands(self, tg, language, expected):
        assert say(tg, "/help", language_code=language) == expected

    def test_the_help_button_in_either_language(self, tg):
        assert say(tg, "Help", language_code="ru") == HELP_RU
        assert say(tg, "Помощь", language_code="en") == HELP_EN

    def test_unlink_disconnects(self, tg, make_user):
        alice = make_user("alice")
        say(tg, f"/start {telegram.new_token('link', alice.id)}")
        assert say(tg, "/unlink") == "Done: this Telegram is no longer connected to @alice on Crema."
        assert link_row(alice.id) is None

    def test_unlink_answers_in_the_accounts_language(self, tg, make_user):
        alice = make_user("alice", locale="ru")
        say(tg, f"/start {telegram.new_token('link', alice.id)}", language_code="en")
        assert say(tg, "/unlink", language_code="en") == (
            "Готово: этот Telegram больше не подключён к @alice на Crema.")
        assert link_row(alice.id) is None

    def test_writing_again_after_blocking_the_bot_reactivates_the_link(self, tg, make_user):
        alice = make_user("alice")
        say(tg, f"/start {telegram.new_token('link', alice.id)}")
        db.session.execute(update(TelegramLink).values(active=False))  # a 403 marked it
        db.session.commit()
        say(tg, "/help")
        assert link_row(alice.id).active is True

    @pytest.mark.parametrize("language, expected", [
        ("en", "This Telegram is not connected to any Crema account."),
        ("ru", "Этот Telegram не подключён ни к одному аккаунту Crema.")])
    def test_unlink_when_nothing_is_linked(self, tg, language, expected):
        assert say(tg, "/unlink", language_code=language) == expected

    @pytest.mark.parametrize("text", ["/dance", "what is this?"])
    @pytest.mark.parametrize("language, expected", [("en", UNKNOWN_EN), ("ru", UNKNOWN_RU),
                                                    ("de", UNKNOWN_EN), (None, UNKNOWN_EN)])
    def test_anything_else_gets_the_help_hint(self, tg, text, language, expected):
        assert say(tg, text, language_code=language) == expected

    def test_groups_hear_nothing(self, tg):
        group = -100123
        tg.push_message("/help", chat_id=group, chat_type="group")
        say(tg, "/help")  # handled after the group's update
        assert [p for p in tg.sent() if str(p["chat_id"]) == str(group)] == []

    def test_a_button_it_no_longer_knows_is_answered(self, tg):
        tg.push_callback("follow:1", language_code="ru")
        call = tg.wait_for("answerCallbackQuery")[0]
        assert call.params["text"] == "Эта кнопка больше не работает."

    def test_every_reply_is_plain_text(self, tg, make_user):
        alice = make_user("alice", display_name="<b>Alice</b> & co")
        reply = say(tg, f"/start {telegram.new_token('link', alice.id)}")
        assert reply == ("Hello, <b>Alice</b> & co! Your Telegram is now connected to Crema "
                         "as @alice.")
        assert all("parse_mode" not in params for params in tg.sent())


class TestBadTimes:
    def test_a_malformed_update_is_skipped_and_the_next_answered(self, tg, bot_process):
        tg.push({"message": {"text": "/help", "message_id": "x"}})  # no chat, no date
        tg.push({"message": "not an object"})
        assert say(tg, "/help") == HELP_EN
        assert "malformed update skipped" in bot_process.output()

    def test_a_failing_handler_is_logged_and_the_bot_goes_on(self, tg, bot_process):
        message = tg.message("/start some-token")
        del message["message"]["from"]  # a private message from nobody: the handler fails
        tg.push(message)
        assert say(tg, "/help") == HELP_EN
        assert "a bot handler failed" in bot_process.output()

    @pytest.mark.parametrize("status", [500, 429, 502])
    def test_a_failed_poll_is_retried(self, tg, status):
        tg.fail("getUpdates", status, token=TOKEN, retry_after=1)
        assert say(tg, "/help") == HELP_EN  # the poll already waiting gets it
        # The next poll fails; the bot waits and polls again.
        tg.wait_for("getUpdates", where=lambda c: c.status == status)
        assert say(tg, "/unlink") == "This Telegram is not connected to any Crema account."
        polls = tg.calls_of("getUpdates")
        failed = next(i for i, c in enumerate(polls) if c.status == status)
        assert any(c.status == 200 for c in polls[failed + 1:])
        if status == 429:  # waited out retry_after before polling again
            assert polls[failed + 1].at - polls[failed].at >= 1

    def test_a_reply_telegram_refuses_is_logged_and_the_bot_goes_on(self, tg, bot_process):
        tg.fail("sendMessage", 403, token=TOKEN)
        tg.push_message("/help")
        tg.wait_for("sendMessage", where=lambda c: c.status == 403)
        assert say(tg, "/help") == HELP_EN


# -- processes of their own ---------------------------------------------------------------

def run_bot(env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def wait_for_output(bot: BotProcess, text: str, count: int = 1, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while bot.output().count(text) < count:
        assert bot.process.poll() is None, "the bot died:\n" + bot.output()
        assert time.monotonic() < deadline, f"no {text!r} {count} times:\n" + bot.output()
        time.sleep(0.1)


def test_an_unreachable_api_is_retried_until_it_answers(database_url, _schema, tmp_path):
    with socket.socket() as probe:  # a port nothing listens on, yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bot = BotProcess(bot_env(database_url, f"http://127.0.0.1:{port}", token="888:late"),
                     tmp_path / "bot.log")
    try:
        wait_for_output(bot, "Bot API call failed", count=2)  # it backs off and goes on
        with serving(FakeBotAPI(), port) as api:
            api.wait_for("getUpdates")  # the start-up calls went through, then the poll
            assert [c.method for c in api.calls[:3]] == ["deleteWebhook", "setMyCommands",
                                                         "setMyCommands"]
            api.push_message("/help")
            assert api.wait_for_reply(5001)[0]["text"] == HELP_EN
    finally:
        bot.stop()


def test_a_second_poller_stops_with_status_3(database_url, _schema, telegram_api):
    token = "654321:second-poller"
    telegram_api.fail("getUpdates", 409, token=token)
    done = run_bot(bot_env(database_url, telegram_api.url, token=token))
    assert done.returncode == 3, done.stdout + done.stderr
    assert ("another bot process is polling this token, or a webhook is set"
            in done.stderr)
    # Before polling it removed any webhook and set the menu in both languages.
    mine = [c for c in telegram_api.calls if c.token == token]
    assert [c.method for c in mine] == ["deleteWebhook", "setMyCommands", "setMyCommands",
                                        "getUpdates"]
    english, russian = mine[1].params, mine[2].params
    assert "language_code" not in english
    assert english["commands"] == [
        {"command": "start", "description": "Connect your Crema account"},
        {"command": "help", "description": "What I can do"},
        {"command": "top", "description": "Top-rated coffees"},
        {"command": "search", "description": "Find coffees by name, roaster, origin or flavour"},
        {"command": "latest", "description": "The newest reviews"},
        {"command": "settings", "description": "Which notifications come to Telegram"},
        {"command": "unlink", "description": "Disconnect Telegram from your Crema account"}]
    assert russian["language_code"] == "ru"
    assert russian["commands"][0] == {"command": "start",
                                      "description": "Подключить аккаунт Crema"}


def test_a_refused_token_stops_with_status_2(database_url, _schema, telegram_api):
    token = "777:revoked"
    telegram_api.fail("deleteWebhook", 401, token=token)
    done = run_bot(bot_env(database_url, telegram_api.url, token=token))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Telegram refuses TELEGRAM_BOT_TOKEN" in done.stderr


@pytest.mark.parametrize("token, username, missing", [
    (None, "crema_test_bot", "TELEGRAM_BOT_TOKEN"),
    (TOKEN, None, "TELEGRAM_BOT_USERNAME"),
    (None, None, "TELEGRAM_BOT_TOKEN and TELEGRAM_BOT_USERNAME")])
def test_without_a_token_it_says_what_to_set(database_url, _schema, telegram_api, token,
                                             username, missing):
    done = run_bot(bot_env(database_url, telegram_api.url, token=token, username=username))
    assert done.returncode == 2
    assert f"python -m bot needs {missing}: set" in done.stderr
    assert telegram_api.calls == []


def test_the_procfile_runs_the_bot():
    assert "bot: python -m bot" in (ROOT / "Procfile").read_text().splitlines()


def test_nothing_starts_at_import():
    code = ("import threading, bot, bot.handlers, bot.polling, bot.__main__; "
            "print(threading.active_count())")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "TELEGRAM_API_URL": "http://127.0.0.1:9"}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"
