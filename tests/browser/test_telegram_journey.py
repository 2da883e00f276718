"""The Telegram issue's "Done when", in real browsers: alice connects Telegram from her
profile (the link the QR code holds, opened in Telegram); bob mentions her in the web
chat; a real ``python -m worker`` tells her in Telegram within seconds; she replies
there, the real ``python -m bot`` posts it, and bob's page shows it live, as a reply to
his message. Every process shares one Redis (the tests' own when TEST_REDIS_URL is not
set), as in production."""
import re
import secrets

import pytest
from sqlalchemy import select

from tests.browser.steps import expect, fresh, path_is
from tests.browser.test_chat import in_room, logged_in
from tests.conftest import clean_up, make_app
from tests.fixtures.jobs import WorkerProcess, wait_for
from tests.test_bot import TOKEN, BotProcess, bot_env
from webapp.extensions import db
from webapp.models import Message, TelegramLink, TelegramMessage

ALICE_TG = 5301
PREFIX = f"crema-test-journey-{secrets.token_hex(4)}:"
DEEP_LINK = re.compile(r"^https://t\.me/crema_test_bot\?start=([A-Za-z0-9_-]{22,64})$")


@pytest.fixture(scope="module")
def bot_process(database_url, _schema, telegram_server, shared_redis_url, tmp_path_factory):
    env = {**bot_env(database_url, telegram_server.url), "REDIS_URL": shared_redis_url,
           "REDIS_PREFIX": PREFIX}
    bot = BotProcess(env, tmp_path_factory.mktemp("bot") / "bot.log")
    try:
        telegram_server.wait_for("getUpdates", where=lambda c: c.token == TOKEN, timeout=60)
    except AssertionError:
        bot.stop()
        raise AssertionError("the bot never polled:\n" + bot.output()) from None
    yield bot
    bot.stop()


@pytest.fixture
def app(database_url, _schema, shared_redis_url, telegram_server):
    """The site on the bot's Redis and key prefix, with the bot configured."""
    app = make_app(database_url, REDIS_URL=shared_redis_url, REDIS_PREFIX=PREFIX,
                   TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_BOT_USERNAME="crema_test_bot",
                   TELEGRAM_API_URL=telegram_server.url)
    with app.app_context():
        yield app
        db.session.remove()
    clean_up(app)


@pytest.fixture
def site(csrf_app, live_server):
    return live_server


@pytest.fixture
def worker(app, database_url, telegram_server, monkeypatch):
    for name, value in {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BOT_USERNAME": "crema_test_bot",
                        "TELEGRAM_API_URL": telegram_server.url}.items():
        monkeypatch.setenv(name, value)
    process = WorkerProcess(app, database_url)
    yield process
    process.stop()


def test_connect_get_mentioned_in_telegram_reply_and_see_it_on_the_web(
        open_page, telegram_api, bot_process, worker, make_user, topic_rooms):
    tg, room = telegram_api, topic_rooms["general"]
    alice_user = make_user("alice", display_name="Alice")
    make_user("bob", display_name="Bob")

    # Alice connects Telegram from her profile: the QR code holds the deep link.
    alice = logged_in(open_page, "alice")
    alice.goto("/users/alice")
    alice.get_by_role("button", name="Connect Telegram").click()
    expect(alice).to_have_url(path_is("/settings/telegram"))
    alice.get_by_role("button", name="Connect Telegram").click()
    expect(alice.get_by_role("img", name="QR code of the link to the Crema bot in Telegram")
           ).to_be_visible()
    link = alice.get_by_role("button", name="Open the Crema bot in Telegram")
    expect(link).to_have_attribute("href", DEEP_LINK)
    token = DEEP_LINK.match(link.get_attribute("href")).group(1)
    tg.push_message(f"/start {token}", user_id=ALICE_TG, first_name="Alice",
                    username="alice_tg")
    assert tg.wait_for_reply(ALICE_TG)[0]["text"].startswith("Hello, Alice!")
    expect(alice.locator("#telegram-connected")).to_contain_text(
        "Connected to Telegram as Alice (@alice_tg)")  # by itself, no reload
    assert fresh(db).scalar(select(TelegramLink.user_id).where(
        TelegramLink.telegram_id == ALICE_TG)) == alice_user.id

    # Bob mentions her in the web chat; the worker tells her in Telegram.
    bob = in_room(logged_in(open_page, "bob"), f"/chat/{room.id}", room.id, here=1)
    bob.send("@alice is the V60 free?")
    expect(bob.message("is the V60 free?")).to_have_count(1)
    mention_id = bob.message_id("is the V60 free?")
    told = tg.wait_for_reply(ALICE_TG, 2, timeout=30)[1]
    assert told["text"].startswith("Bob mentioned you in General\n\n@alice is the V60 free?")
    buttons = [b["text"] for row in told["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["Open", "Mute this room"]
    record = wait_for(lambda: fresh(db).scalar(select(TelegramMessage).where(
        TelegramMessage.chat_id == ALICE_TG, TelegramMessage.chat_message_id == mention_id)),
        30, "the notification was not recorded", worker)

    # She replies in Telegram; Bob's page shows it live, as a reply to his message.
    tg.push_message("Yes, come over", user_id=ALICE_TG, first_name="Alice",
                    reply_to=record.message_id)
    assert tg.wait_for_reply(ALICE_TG, 3)[2]["text"] == "Posted in General."
    posted = bob.message("Yes, come over")
    expect(posted).to_have_count(1)
    expect(posted.locator(".msg-author")).to_have_text("Alice")
    expect(posted.locator(f'.msg-quote a[href$="#msg-{mention_id}"]')).to_have_count(1)
    stored = fresh(db).scalar(select(Message).where(Message.body == "Yes, come over"))
    assert (stored.user_id, stored.room_id, stored.reply_to_id) == (
        alice_user.id, room.id, mention_id)
