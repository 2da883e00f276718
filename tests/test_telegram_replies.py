"""Two-way chat (bot/replies.py): the real bot (``python -m bot``) takes a linked user's
reply to a notification from the fake Bot API and posts it in the room, as them, as a
reply to the notified message, live for a WebSocket client of the running site; every
refusal of the web composer is answered in Telegram; the mute buttons. And the whole
path once: linked in the bot, mentioned on the web, told in Telegram by the worker,
replying from Telegram, seen on the web."""
import re
import secrets

import pytest
from sqlalchemy import select

from tests.conftest import clean_up, make_app
from tests.fixtures.chat_servers import article, login
from tests.fixtures.jobs import WorkerProcess, wait_for
from tests.test_bot import BotProcess, bot_env
from webapp.extensions import db
from webapp.models import Message, Mute, TelegramLink, TelegramMessage
from webapp.services import chat, telegram

PREFIX = f"crema-test-replies-{secrets.token_hex(4)}:"  # the bot's and every test app's
TOKEN = "123456:bot-under-test"  # bot_env's
BASE_URL = "https://crema.example"
ANA = 5101  # Telegram users (and their private chats)
BORIS = 5102
POSTED = "Posted in General."
HINT = ("To post in a chat room, reply to my notification of a message in it. "
        "/help lists what I can do.")


@pytest.fixture(scope="module")
def bot_process(database_url, _schema, telegram_server, shared_redis_url, tmp_path_factory):
    """One bot for the module, on the tests' Redis and key prefix (so that what it posts
    reaches the live server's sockets), with a small flood limit."""
    env = {**bot_env(database_url, telegram_server.url), "REDIS_URL": shared_redis_url,
           "REDIS_PREFIX": PREFIX, "CHAT_POST_LIMIT": "3 per minute"}
    bot = BotProcess(env, tmp_path_factory.mktemp("bot") / "bot.log")
    try:
        telegram_server.wait_for("getUpdates", where=lambda c: c.token == TOKEN, timeout=60)
    except AssertionError:
        bot.stop()
        raise AssertionError("the bot never polled:\n" + bot.output()) from None
    yield bot
    bot.stop()


@pytest.fixture
def app(database_url, _schema, shared_redis_url):
    """The site on the bot's Redis and prefix."""
    app = make_app(database_url, REDIS_URL=shared_redis_url, REDIS_PREFIX=PREFIX,
                   BASE_URL=BASE_URL, CHAT_POST_LIMIT="3 per minute")
    with app.app_context():
        yield app
        db.session.remove()
    clean_up(app)


@pytest.fixture
def tg(app, telegram_api, bot_process):
    yield telegram_api
    assert bot_process.process.poll() is None, "the bot died:\n" + bot_process.output()


@pytest.fixture
def general(topic_rooms):
    return topic_rooms["general"]


@pytest.fixture
def watching(live_server, open_socket, socket_handlers, general, make_user):
    """bob's socket in General on the live server, caught up; every handler ended after."""
    make_user("bob")
    sock = open_socket(live_server.url, general.id, login(live_server.url, "bob"))
    sock.resume(chat.latest_id(general.id))
    yield sock
    for each in open_socket.sockets:
        each.close()
    socket_handlers.wait_idle()


def linked(make_user, name: str, telegram_id: int, **fields):
    user = make_user(name, **fields)
    db.session.add(TelegramLink(user_id=user.id, telegram_id=telegram_id, chat_id=telegram_id,
                                first_name=name.title()))
    db.session.commit()
    return user


def notified(user, chat_id: int, room_id: int, chat_message_id: int, message_id: int) -> int:
    """A notification the bot sent ``user`` about a chat message (as the worker records
    it); the bot's message id."""
    db.session.add(TelegramMessage(chat_id=chat_id, message_id=message_id, user_id=user.id,
                                   room_id=room_id,
                                   chat_message_id=chat_message_id))
    db.session.commit()
    return message_id


def reply(tg, text: str, to: int, user_id: int = ANA, **who) -> str:
    """Reply ``text`` to the bot's message ``to`` as ``user_id``; the bot's answer."""
    before = len([p for p in tg.sent() if str(p["chat_id"]) == str(user_id)])
    tg.push_message(text, user_id=user_id, reply_to=to, **who)
    return tg.wait_for_reply(user_id, before + 1)[before]["text"]


def messages() -> list[tuple]:
    db.session.expire_all()
    return [(m.user_id, m.body, m.reply_to_id) for m in
            db.session.scalars(select(Message).order_by(Message.id))]


@pytest.fixture
def scene(tg, general, make_user):
    """alice (linked as ANA) was told of carol's message in General."""
    alice = linked(make_user, "alice", ANA)
    carol = make_user("carol")
    original = chat.post_message(general.id, carol.id, "@alice how hot do you brew?")
    to = notified(alice, ANA, general.id, original.id, 900001)
    return alice, carol, original, to


class TestReplying:
    def test_a_reply_is_posted_as_the_user_as_a_reply_and_is_live_on_the_web(
            self, tg, scene, general, watching):
        alice, carol, original, to = scene
        start = watching.mark()
        assert reply(tg, "93°C, <i>always</i>", to) == POSTED
        answer = tg.sent()[-1]
        assert answer["reply_parameters"]["message_id"] > 0  # answers the user's reply
        (posted,) = [m for m in messages() if m[0] == alice.id]
        assert posted == (alice.id, "93°C, <i>always</i>", original.id)
        new_id = chat.latest_id(general.id)
        frame = watching.wait_message(new_id, start)
        html = article([frame], new_id)
        assert "93°C, &lt;i&gt;always&lt;/i&gt;" in html
        assert f"#msg-{original.id}" in html  # shown as a reply to carol's message

    def test_the_same_update_twice_is_posted_once(self, tg, scene):
        alice, _, _, to = scene
        update = tg.message("Once only", user_id=ANA, reply_to=to)
        tg.push(dict(update))
        tg.push(dict(update))  # a redelivery: a new update id, the same Telegram message
        assert [p["text"] for p in tg.wait_for_reply(ANA, 2)] == [POSTED, POSTED]
        assert [m[1] for m in messages() if m[0] == alice.id] == ["Once only"]

    def test_too_many_replies_are_refused_with_the_wait(self, tg, scene):
        alice, _, _, to = scene
        for n in range(3):
            assert reply(tg, f"reply {n}", to) == POSTED
        refused = reply(tg, "reply 3", to)
        assert re.fullmatch(r"Not posted: you are sending messages too fast\. "
                            r"Try again in \d+ s\.", refused), refused
        assert [m[1] for m in messages() if m[0] == alice.id] == [f"reply {n}" for n in range(3)]

    @pytest.mark.parametrize("text, language, expected", [
        ("x" * 2001, "en", "Not posted: At most 2000 characters."),
        ("x" * 2001, "ru", "Не отправлено: Максимум символов: 2000."),
        ("nul\x00inside", "en", "Not posted: Remove the control characters."),
        ("bell\x07", "en", "Not posted: Remove the control characters."),
        ("   ", "en", "Not posted: Write a message."),
    ])
    def test_what_the_composer_refuses_is_refused_and_nothing_is_saved(
            self, tg, scene, text, language, expected):
        alice, _, _, to = scene
        if language == "ru":
            alice.locale = "ru"
            db.session.commit()
        assert reply(tg, text, to, language_code="en") == expected
        assert [m for m in messages() if m[0] == alice.id] == []

    def test_a_deleted_message_cannot_be_answered(self, tg, scene):
        alice, carol, original, to = scene
        chat.delete_message(original.id, carol.id)
        assert reply(tg, "too late?", to) == "Not posted: This message was deleted."
        assert [m for m in messages() if m[0] == alice.id] == []

    @pytest.mark.parametrize("language, expected", [
        ("en", HINT),
        ("ru", "Чтобы написать в комнату чата, ответьте на моё уведомление о сообщении в ней. "
               "/help — список того, что я умею.")])
    def test_a_reply_to_anything_else_gets_a_hint(self, tg, scene, language, expected):
        alice, _, _, _ = scene
        assert reply(tg, "hello?", 424242, language_code=language) == expected
        assert [m for m in messages() if m[0] == alice.id] == []

    def test_a_reply_to_someone_elses_notification_gets_the_hint(self, tg, scene, make_user):
        _, _, _, to = scene
        linked(make_user, "boris", BORIS)
        # alice's notification, as if boris's chat had a message of that id
        assert reply(tg, "not mine", to, user_id=BORIS) == HINT
        assert len(messages()) == 1

    def test_an_unlinked_user_is_told_to_connect(self, tg, scene):
        _, _, _, to = scene
        db.session.execute(TelegramLink.__table__.delete())
        db.session.commit()
        assert reply(tg, "hi", to) == ("Connect your Crema account first (/start says how); "
                                       "then replies to notifications are posted in their rooms.")
        assert len(messages()) == 1

    def test_only_text_can_be_posted(self, tg, scene):
        alice, _, _, to = scene
        update = tg.message("", user_id=ANA, reply_to=to)
        del update["message"]["text"]
        update["message"]["photo"] = [{"file_id": "p1", "file_unique_id": "u1",
                                       "width": 90, "height": 90}]
        update["message"]["caption"] = "look at this crema"
        tg.push(update)
        assert tg.wait_for_reply(ANA)[0]["text"] == "Only text can be posted in the chat."
        assert [m for m in messages() if m[0] == alice.id] == []


class TestMuteButton:
    def test_mute_then_unmute_swaps_the_button(self, tg, scene, general):
        alice, _, original, to = scene
        open_button = {"text": "Open", "url": f"{BASE_URL}/chat/{general.id}#msg-{original.id}"}
        markup = {"inline_keyboard": [[open_button, {"text": "Mute this room",
                                                     "callback_data": f"mute:room:{general.id}"}]]}
        tg.push_callback(f"mute:room:{general.id}", user_id=ANA, message_id=to,
                         reply_markup=markup)
        (edit,) = tg.wait_for("editMessageReplyMarkup")
        answered = tg.calls_of("answerCallbackQuery")[0].params["text"]
        assert answered == ("Muted: you will hear of General only when someone mentions you "
                            "or replies to you.")
        assert (str(edit.params["chat_id"]), str(edit.params["message_id"])) == (str(ANA), str(to))
        assert edit.params["reply_markup"] == {"inline_keyboard": [[open_button, {
            "text": "Unmute this room", "callback_data": f"unmute:room:{general.id}"}]]}
        db.session.expire_all()
        assert db.session.scalars(select(Mute.room_id).where(Mute.user_id == alice.id)).all() == [
            general.id]

        tg.push_callback(f"unmute:room:{general.id}", user_id=ANA, message_id=to,
                         reply_markup=edit.params["reply_markup"])
        edits = tg.wait_for("editMessageReplyMarkup", 2)
        assert edits[1].params["reply_markup"] == markup
        assert tg.calls_of("answerCallbackQuery")[1].params["text"] == (
            "Unmuted: you will hear of General again.")
        db.session.expire_all()
        assert db.session.scalars(select(Mute).where(Mute.user_id == alice.id)).all() == []

    def test_a_mute_button_of_a_room_gone_or_an_unlinked_user_no_longer_works(self, tg, scene):
        tg.push_callback("mute:room:999999", user_id=ANA, message_id=1)
        tg.push_callback("mute:room:1", user_id=BORIS, message_id=1)
        tg.push_callback("mute:room:" + "9" * 30, user_id=ANA, message_id=1)  # no such id
        calls = tg.wait_for("answerCallbackQuery", 3)
        assert [c.params["text"] for c in calls] == ["This button no longer works."] * 3
        assert tg.calls_of("editMessageReplyMarkup") == []
        assert db.session.scalars(select(Mute)).all() == []


def test_linked_mentioned_told_replied_seen(app, tg, general, make_user, live_server, open_socket,
                                            socket_handlers, database_url, monkeypatch):
    """The issue's "Done when": alice links Telegram in the bot; bob mentions her in the
    web chat; the worker tells her in Telegram; she replies there; bob sees it live."""
    alice = make_user("alice")
    make_user("bob")
    token = telegram.new_token("link", alice.id)
    tg.push_message(f"/start {token}", user_id=ANA)
    tg.wait_for_reply(ANA)
    for name, value in {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BOT_USERNAME": "crema_test_bot",
                        "TELEGRAM_API_URL": tg.url, "BASE_URL": BASE_URL}.items():
        monkeypatch.setenv(name, value)
    worker = WorkerProcess(app, database_url)
    try:
        bob = open_socket(live_server.url, general.id, login(live_server.url, "bob"))
        bob.resume(chat.latest_id(general.id))
        assert bob.post("@alice is the V60 free?")["error"] is False  # from the web page
        mention_id = chat.latest_id(general.id)
        told = tg.wait_for_reply(ANA, 2, timeout=30)[1]
        assert told["text"].startswith("bob mentioned you in General\n\n@alice is the V60 free?")
        record = wait_for(lambda: db.session.scalar(select(TelegramMessage).where(
            TelegramMessage.chat_id == ANA)), 30, "no record of the notification", worker)
        start = bob.mark()
        assert reply(tg, "Yes, come over", record.message_id) == POSTED
        reply_id = chat.latest_id(general.id)
        html = article([bob.wait_message(reply_id, start)], reply_id)
        assert "Yes, come over" in html and f"#msg-{mention_id}" in html
        assert messages()[-1] == (alice.id, "Yes, come over", mention_id)
    finally:
        worker.stop()
        for each in open_socket.sockets:
            each.close()
        socket_handlers.wait_idle()
