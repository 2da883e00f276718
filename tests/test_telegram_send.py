"""The site's outbox to Telegram (webapp/services/telegram_send.py), against the fake Bot
API: plain sends, 429s waited out for every sender, 403 marking the link inactive,
failures reported, and the two rates (overall, per chat) kept."""
import time

import pytest
from sqlalchemy import select

from webapp.extensions import db, limiter
from webapp.models import TelegramLink
from webapp.services import telegram_send
from webapp.services.telegram_send import Blocked, SendFailed, Throttled

CHAT = 7001


@pytest.fixture
def tg(app, telegram_api):
    app.config.update(TELEGRAM_BOT_TOKEN="123456:outbox", TELEGRAM_BOT_USERNAME="crema_test_bot",
                      TELEGRAM_API_URL=telegram_api.url)
    return telegram_api


def linked(make_user, chat_id: int = CHAT) -> TelegramLink:
    user = make_user(f"u{chat_id}")
    link = TelegramLink(user_id=user.id, telegram_id=chat_id, chat_id=chat_id, first_name="Ana")
    db.session.add(link)
    db.session.commit()
    return link


def test_a_message_goes_as_plain_text_without_a_preview(tg):
    message = telegram_send.send(CHAT, "Hello <b>there</b>", reply_to=41)
    (params,) = tg.sent()
    assert params["chat_id"] == str(CHAT)
    assert params["text"] == "Hello <b>there</b>"
    assert "parse_mode" not in params
    assert params["link_preview_options"] == {"is_disabled": True}
    assert params["reply_parameters"] == {"message_id": 41, "allow_sending_without_reply": True}
    assert message.message_id > 0


def test_a_429_pauses_every_sender_then_the_message_goes(tg):
    tg.fail("sendMessage", 429, retry_after=1)
    telegram_send.send(CHAT, "after the pause")
    first, second = tg.calls_of("sendMessage")
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0  # retry_after was honoured
    assert tg.sent()[0]["text"] == "after the pause"


def test_without_waiting_a_429_raises_throttled_and_pauses_the_others(tg):
    tg.fail("sendMessage", 429, retry_after=3)
    with pytest.raises(Throttled) as throttled:
        telegram_send.send(CHAT, "later", wait=False)
    assert throttled.value.retry_after == 3
    assert telegram_send.paused_for() > 2  # every sender of the site now waits
    with pytest.raises(Throttled):  # nor is a call made during the pause
        telegram_send.send(CHAT + 1, "later too", wait=False)
    assert [c.status for c in tg.calls_of("sendMessage")] == [429]


def test_429_over_and_over_gives_up_after_the_attempts(tg, monkeypatch):
    monkeypatch.setattr(telegram_send, "ATTEMPTS", 2)
    tg.fail("sendMessage", 429, times=2, retry_after=0)
    with pytest.raises(SendFailed, match="still 429 after 2 tries"):
        telegram_send.send(CHAT, "never")
    assert tg.sent() == []


def test_a_403_marks_the_link_inactive_and_writing_again_reactivates_it(tg, make_user):
    link = linked(make_user)
    tg.fail("sendMessage", 403)
    with pytest.raises(Blocked) as refusal:
        telegram_send.send(CHAT, "you blocked me")
    assert refusal.value.chat_id == CHAT
    db.session.commit()
    db.session.expire_all()
    assert db.session.scalar(select(TelegramLink.active).where(TelegramLink.id == link.id)) is False

    assert telegram_send.reactivate(CHAT) is True
    assert db.session.scalar(select(TelegramLink.active).where(TelegramLink.id == link.id)) is True
    assert telegram_send.reactivate(CHAT) is False  # active already


def test_a_500_and_a_dead_server_are_send_failures(tg, app):
    tg.fail("sendMessage", 500)
    with pytest.raises(SendFailed, match="500"):
        telegram_send.send(CHAT, "x")
    app.config["TELEGRAM_API_URL"] = "http://127.0.0.1:9"  # nothing listens there
    app.extensions.pop("telegram_sender")
    with pytest.raises(SendFailed):
        telegram_send.send(CHAT, "x")


@pytest.mark.parametrize("text", ["", "x" * 4097])
def test_empty_and_overlong_texts_are_refused_before_any_call(tg, text):
    with pytest.raises(ValueError):
        telegram_send.send(CHAT, text)
    assert tg.calls_of("sendMessage") == []


def test_one_chat_gets_one_message_a_second(tg):
    for n in range(3):
        telegram_send.send(CHAT, f"m{n}")
    calls = tg.calls_of("sendMessage")
    assert [c.params["text"] for c in calls] == ["m0", "m1", "m2"]
    assert calls[2].at - calls[0].at >= 1.9


def test_many_chats_go_at_the_overall_rate(tg, app):
    app.config["RATE_LIMITS"]["telegram-send"] = "5 per second"
    for n in range(11):
        telegram_send.send(CHAT + n, "hi")
    calls = tg.calls_of("sendMessage")
    # 11 sends at 5 a second: the 6th waits for the 1st's second to pass, the 11th for the 6th's.
    assert calls[5].at - calls[0].at >= 0.95
    assert calls[10].at - calls[0].at >= 1.9


def test_limiter_wait_gives_up_after_most(app):
    app.config["RATE_LIMITS"]["telegram-chat"] = "1 per minute"
    limiter.wait("telegram-chat", 1)
    with pytest.raises(TimeoutError):
        limiter.wait("telegram-chat", 1, most=0.2)
