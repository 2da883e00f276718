"""Notifications in Telegram (webapp/services/telegram_notify.py): a real ``python -m
worker`` on Redis sends them to the fake Bot API (tests/fixtures/telegram.py) once, in
the recipient's language, with a quote and buttons; preferences, missing or blocked
links, a 403 and a 500 on the way; the embedded set-up (no Redis) does the same in the
web process; the settings page shows the Telegram column to linked users."""
import re

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, clean_up, make_app
from tests.test_notification_settings import ticked
from tests.fixtures.jobs import WorkerProcess, queue, rq_app, wait_for  # noqa: F401
from webapp.extensions import db
from webapp.models import Delivery, Notification, TelegramLink, TelegramMessage
from webapp.services import chat, follows, notification_prefs
from webapp.services import coffees as coffee_service
from webapp.services import reviews as review_service
from webapp.services.coffees import CoffeeData
from webapp.services import users as user_service
from webapp.services.telegram_notify import QUOTE_MAX

TOKEN = "123456:notify-under-test"
BASE_URL = "https://crema.example"
HINT_EN = "Reply to this message to answer in the room."


def telegram_config(api_url: str) -> dict:
    return {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BOT_USERNAME": "crema_test_bot",
            "TELEGRAM_API_URL": api_url, "BASE_URL": BASE_URL}


@pytest.fixture
def worker(rq_app, database_url, telegram_api, monkeypatch):
    """``python -m worker`` with the bot's settings (the fake Bot API), on rq_app's queue."""
    for name, value in telegram_config(telegram_api.url).items():
        monkeypatch.setenv(name, value)
    rq_app.config.update(telegram_config(telegram_api.url))
    process = WorkerProcess(rq_app, database_url)
    yield process
    process.stop()


@pytest.fixture
def general(rq_app):
    chat.ensure_topic_rooms()
    return next(r for r in chat.topic_rooms() if r.slug == "general")


def person(name: str, chat_id: int | None = None, locale: str = "en", active: bool = True) -> int:
    """A user (linked to Telegram chat ``chat_id`` when given); their id."""
    user = user_service.register_user(name, f"{name}@example.com", PASSWORD)
    user.locale = locale
    if chat_id is not None:
        db.session.add(TelegramLink(user_id=user.id, telegram_id=chat_id, chat_id=chat_id,
                                    first_name=name.title(), active=active))
    db.session.commit()
    return user.id


def to_chat(tg, chat_id: int) -> list[dict]:
    return [p for p in tg.sent() if str(p["chat_id"]) == str(chat_id)]


def settled(app, worker) -> None:
    """Every job of the queue has run (none waiting, running or scheduled for a retry;
    the daily digest round the worker schedules aside)."""
    q = queue(app)
    wait_for(lambda: q.count == 0 and q.started_job_registry.count == 0
             and not [j for j in q.scheduled_job_registry.get_job_ids()
                      if "digest-round" not in j], 60, "the queue did not settle", worker)


def rows(model):
    db.session.expire_all()
    return list(db.session.scalars(select(model).order_by(model.id)))


class TestAMention:
    @pytest.mark.parametrize("locale, text, buttons", [
        ("en", "ana mentioned you in General\n\n@bob the Kochere at 93°C, <b>really</b>\n\n"
               + HINT_EN, ["Open", "Mute this room"]),
        ("ru", "ana упоминает вас в комнате «Общий»\n\n@bob the Kochere at 93°C, <b>really</b>"
               "\n\nОтветьте на это сообщение, чтобы написать в комнату.",
         ["Открыть", "Заглушить комнату"])])
    def test_reaches_the_linked_user_with_a_quote_and_buttons_in_their_language(
            self, rq_app, worker, telegram_api, general, locale, text, buttons):
        ana = person("ana")
        bob = person("bob", chat_id=6001, locale=locale)
        message = chat.post_message(general.id, ana, "@bob the Kochere at 93°C, <b>really</b>")
        (sent,) = telegram_api.wait_for_reply(6001, timeout=30)
        assert sent["text"] == text
        assert "parse_mode" not in sent
        assert sent["reply_markup"] == {"inline_keyboard": [[
            {"text": buttons[0],
             "url": f"{BASE_URL}/chat/{general.id}?before={message.id + 1}#msg-{message.id}"},
            {"text": buttons[1], "callback_data": f"mute:room:{general.id}"}]]}
        settled(rq_app, worker)
        (note,) = rows(Notification)
        (record,) = rows(TelegramMessage)
        assert (record.chat_id, record.user_id, record.notification_id, record.room_id,
                record.chat_message_id) == (6001, bob, note.id, general.id, message.id)
        assert record.message_id > 0
        assert [(d.channel, d.key, d.user_id) for d in rows(Delivery)
                if d.channel == "telegram"] == [("telegram", f"telegram:notification:{note.id}",
                                                 bob)]
        assert len(to_chat(telegram_api, 6001)) == 1

    def test_a_long_message_is_quoted_cut(self, rq_app, worker, telegram_api, general):
        ana = person("ana")
        person("bob", chat_id=6001)
        body = "@bob " + "x" * 1500
        chat.post_message(general.id, ana, body)
        (sent,) = telegram_api.wait_for_reply(6001, timeout=30)
        quote = sent["text"].split("\n\n")[1]
        assert len(quote) == QUOTE_MAX and quote == body[:QUOTE_MAX - 1] + "…"

    def test_preferences_off_unlinked_and_inactive_hear_nothing(
            self, rq_app, worker, telegram_api, general):
        ana = person("ana")
        person("bob", chat_id=6001)                   # linked, Telegram off for mentions
        person("cyd")                                  # not linked
        person("dee", chat_id=6003, active=False)      # blocked the bot earlier
        person("eve", chat_id=6004)                    # linked, defaults
        bob = db.session.scalar(select(TelegramLink.user_id).where(TelegramLink.chat_id == 6001))
        notification_prefs.save_prefs(bob, {("mentions", "in_app")}, ["in_app", "telegram"], False)
        chat.post_message(general.id, ana, "@bob @cyd @dee @eve cupping at five")
        telegram_api.wait_for_reply(6004, timeout=30)
        settled(rq_app, worker)
        assert [p["chat_id"] for p in telegram_api.sent()] == ["6004"]
        assert [r.user_id for r in rows(TelegramMessage)] == [
            db.session.scalar(select(TelegramLink.user_id).where(TelegramLink.chat_id == 6004))]

    def test_a_403_makes_the_link_inactive_and_the_others_still_get_theirs(
            self, rq_app, worker, telegram_api, general):
        ana = person("ana")
        bob = person("bob", chat_id=6001)
        person("cyd", chat_id=6002)
        telegram_api.fail("sendMessage", 403)  # the first send: bob's (the lower id)
        chat.post_message(general.id, ana, "@bob @cyd cupping at five")
        telegram_api.wait_for_reply(6002, timeout=30)
        settled(rq_app, worker)
        assert [(c.params["chat_id"], c.status) for c in telegram_api.calls_of("sendMessage")] == [
            ("6001", 403), ("6002", 200)]
        db.session.expire_all()
        assert db.session.scalar(select(TelegramLink.active).where(
            TelegramLink.user_id == bob)) is False
        assert [r.chat_id for r in rows(TelegramMessage)] == [6002]

    def test_a_500_is_retried_and_nobody_gets_anything_twice(
            self, rq_app, worker, telegram_api, general):
        ana = person("ana")
        person("bob", chat_id=6001)
        person("cyd", chat_id=6002)
        telegram_api.fail("sendMessage", 500)  # bob's first try
        chat.post_message(general.id, ana, "@bob @cyd cupping at five")
        telegram_api.wait_for_reply(6001, timeout=60)  # the retry (RQ's scheduler, 5 s)
        settled(rq_app, worker)
        assert [(c.params["chat_id"], c.status) for c in telegram_api.calls_of("sendMessage")] == [
            ("6001", 500), ("6002", 200), ("6001", 200)]
        assert sorted(r.chat_id for r in rows(TelegramMessage)) == [6001, 6002]
        assert "SendFailed" in worker.output()


    def test_a_429_queues_the_rest_for_after_retry_after_without_holding_the_worker(
            self, rq_app, worker, telegram_api, general):
        ana = person("ana")
        person("bob", chat_id=6001)
        person("cyd", chat_id=6002)
        telegram_api.fail("sendMessage", 429, retry_after=2)  # bob's first try
        chat.post_message(general.id, ana, "@bob @cyd cupping at five")
        telegram_api.wait_for_reply(6002, timeout=60)
        settled(rq_app, worker)
        calls = telegram_api.calls_of("sendMessage")
        assert [(c.params["chat_id"], c.status) for c in calls] == [
            ("6001", 429), ("6001", 200), ("6002", 200)]
        assert calls[1].at - calls[0].at >= 2.0  # not before Telegram's retry_after
        # The first job ended at the 429 (no sleeping worker); a second one, for after
        # retry_after, sent both.
        runs = re.findall(r"Successfully completed webapp\.services\.telegram_notify\.deliver"
                          r"\((\[\d+, \d+\])\) job", worker.output())
        assert len(runs) == 2 and runs[0] == runs[1], worker.output()
        assert sorted(r.chat_id for r in rows(TelegramMessage)) == [6001, 6002]


class TestChatActivity:
    def test_a_room_followed_with_telegram_on_gets_the_count_and_the_latest_message(
            self, rq_app, worker, telegram_api, general):
        ana = person("ana")
        bob = person("bob", chat_id=6001)
        follows.follow(bob, room_id=general.id)
        notification_prefs.save_prefs(bob, {("chat", "telegram")}, ["in_app", "telegram"], False)
        message = chat.post_message(general.id, ana, "Anyone tried the new Geisha?")
        (sent,) = telegram_api.wait_for_reply(6001, timeout=30)
        assert sent["text"] == ("1 new message in General\n\nana: Anyone tried the new Geisha?"
                                "\n\n" + HINT_EN)
        assert [b["text"] for b in sent["reply_markup"]["inline_keyboard"][0]] == [
            "Open", "Mute this room"]
        settled(rq_app, worker)
        (record,) = rows(TelegramMessage)
        assert (record.room_id, record.chat_message_id) == (general.id, message.id)


# The embedded set-up: no Redis, jobs run in the web process -------------------------

@pytest.fixture
def inline_app(database_url, _schema, telegram_api):
    app = make_app(database_url, REDIS_URL=None, **telegram_config(telegram_api.url))
    with app.app_context():
        yield app
        db.session.remove()
    clean_up(app)


def test_without_redis_the_mention_is_sent_from_the_web_process(inline_app, telegram_api):
    chat.ensure_topic_rooms()
    general = next(r for r in chat.topic_rooms() if r.slug == "general")
    ana = person("ana")
    bob = person("bob", chat_id=6001, locale="ru")
    person("cyd", chat_id=6002)
    notification_prefs.save_prefs(bob, set(), ["telegram"], False)  # bob: Telegram off
    chat.post_message(general.id, ana, "@bob @cyd cupping at five")
    # Ran before post_message returned: nothing to wait for.
    assert [(p["chat_id"], p["text"].split("\n")[0]) for p in telegram_api.sent()] == [
        ("6002", "ana mentioned you in General")]
    chat.post_message(general.id, ana, "@cyd and bring the scale")
    assert len(to_chat(telegram_api, 6002)) == 2
    assert len(rows(TelegramMessage)) == 2


def test_a_review_is_quoted_and_opens_on_the_coffees_page(inline_app, telegram_api):
    ana = person("ana")
    cyd = person("cyd", chat_id=6002, locale="ru")
    coffee = coffee_service.create_coffee(cyd, CoffeeData(
        name="Kochere", roaster="Test Roasters", origin="ET", process="washed", roast="light",
        notes=["jasmine"]))
    review, _ = review_service.save_review(coffee.id, ana, 4, "pour-over", [],
                                           "Jasmine, then <bergamot>.")
    (sent,) = to_chat(telegram_api, 6002)
    assert sent["text"] == ("ana оставляет отзыв о кофе «Kochere»\n\n"
                            "Jasmine, then <bergamot>.")
    assert sent["reply_markup"] == {"inline_keyboard": [[
        {"text": "Открыть", "url": f"{BASE_URL}/coffees/{coffee.id}#review-{review.id}"}]]}
    (record,) = rows(TelegramMessage)
    assert (record.room_id, record.chat_message_id) == (None, None)


# The settings page -------------------------------------------------------------------

SETTINGS = "/settings/notifications"


@pytest.fixture
def bot_configured(app, telegram_api):
    app.config.update(telegram_config(telegram_api.url))


def test_the_settings_page_has_a_telegram_column_for_linked_users(
        bot_configured, client, auth, make_user):
    alice = make_user("alice")
    db.session.add(TelegramLink(user_id=alice.id, telegram_id=6001, chat_id=6001))
    db.session.commit()
    auth.login()
    page = client.get(SETTINGS).text
    assert re.findall(r'<th scope="col">([^<]*)</th>', page) == [
        "Kind", "In the app", "Email", "Telegram"]
    assert {v for v in ticked(page) if v.endswith(".telegram")} == {
        "mentions.telegram", "reviews.telegram"}  # the defaults
    assert 'value="chat.telegram"' in page
    response = client.post(SETTINGS, data={"enabled": ["mentions.in_app", "chat.telegram"],
                                           "email_mode": "immediate"})
    assert response.status_code == 303
    assert notification_prefs.prefs(alice.id)["chat"]["telegram"] is True
    assert notification_prefs.prefs(alice.id)["mentions"]["telegram"] is False


@pytest.mark.parametrize("link", ["none", "inactive"])
def test_no_telegram_column_without_an_active_link(bot_configured, client, auth, make_user, link):
    alice = make_user("alice")
    if link == "inactive":
        db.session.add(TelegramLink(user_id=alice.id, telegram_id=6001, chat_id=6001,
                                    active=False))
        db.session.commit()
    auth.login()
    page = client.get(SETTINGS).text
    assert re.findall(r'<th scope="col">([^<]*)</th>', page) == ["Kind", "In the app", "Email"]
    assert ".telegram" not in page
    response = client.post(SETTINGS, data={"enabled": ["chat.telegram"],
                                           "email_mode": "immediate"})
    assert response.status_code == 422
    assert notification_prefs.prefs(alice.id)["chat"]["telegram"] is False
