"""What the site sends through the bot (notifications, broadcasts), within Telegram's limits.

Telegram takes about 30 messages a second from one bot, and 1 a second in one chat;
beyond, it answers 429 with ``retry_after``. Every process that sends (RQ jobs, the
web) takes its turn from two moving-window limits in ``RATE_LIMITS``, shared through
Redis when there is one: ``telegram-send`` overall (25 a second, so that the bot's
answers to commands keep the rest) and ``telegram-chat`` per chat (1 a second).

``send(chat_id, text, ...)`` waits for its turn, sends, and returns the sent message:

- a 429 pauses every sender of the site for ``retry_after`` (a Redis key, else this
  process), then the message is tried again, up to ``ATTEMPTS`` times; with
  ``wait=False`` it raises ``Throttled`` instead, for a job that queues itself again
  for later rather than hold its worker (the notification jobs; a broadcast is one
  long job and waits);
- a 403 (the user blocked the bot, or left Telegram) marks the chat's link inactive in
  the caller's transaction, and raises ``Blocked``; writing to the bot again makes the
  link active (``reactivate``);
- anything else raises ``SendFailed`` (the caller decides: a job tries again later).

Texts go as plain text (no ``parse_mode``): nobody's name or message can inject markup.
"""
import logging
import threading
import time
from collections.abc import Callable

from flask import current_app
from telebot import TeleBot, apihelper, types
from telebot.apihelper import ApiException, ApiTelegramException
from sqlalchemy import update

from webapp.extensions import db, limiter
from webapp.models import TelegramLink
from webapp.redis_client import get_redis

log = logging.getLogger(__name__)

MAX_LENGTH = 4096  # characters in one Telegram message
ATTEMPTS = 5       # tries of one message through 429s before SendFailed
MAX_PAUSE = 300    # seconds; a longer retry_after is capped (and logged)

_local_pause = {"until": 0.0}
_lock = threading.Lock()


class SendFailed(Exception):
    """Telegram did not take the message (network, 5xx, 400, or 429 too many times)."""


class Throttled(SendFailed):
    """Telegram asked every sender to wait (429, here or in another process) and the
    caller would rather not: try again in ``retry_after`` seconds."""

    def __init__(self, chat_id: int, retry_after: float) -> None:
        super().__init__(f"chat {chat_id}: Telegram asks to wait {retry_after:.1f} s")
        self.chat_id, self.retry_after = chat_id, retry_after


class Blocked(SendFailed):
    """403: the user blocked the bot; their link is now inactive."""

    def __init__(self, chat_id: int, description: str = "") -> None:
        super().__init__(f"chat {chat_id}: {description or 'blocked'}")
        self.chat_id = chat_id


def sender(app=None) -> TeleBot:
    """The app's TeleBot for sending (no handlers), made on first use."""
    app = app or current_app._get_current_object()
    with _lock:
        if "telegram_sender" not in app.extensions:
            # pyTelegramBotAPI keeps the address in its module: the same one bot/ sets.
            apihelper.API_URL = f"{app.config['TELEGRAM_API_URL']}/bot{{0}}/{{1}}"
            app.extensions["telegram_sender"] = TeleBot(app.config["TELEGRAM_BOT_TOKEN"],
                                                        threaded=False)
        return app.extensions["telegram_sender"]


def send(chat_id: int, text: str, reply_markup=None, reply_to: int | None = None,
         quiet: bool = False, claim: Callable[[], bool] | None = None,
         wait: bool = True) -> types.Message | None:
    """Send ``text`` to ``chat_id`` in turn; the message Telegram made.

    ``wait=False`` is for jobs that can be queued again rather than hold their worker
    through a 429's ``retry_after``: during a pause, or on a 429, ``Throttled`` is raised
    instead of waiting (the turns of the rate limits, under a second, are still waited).

    ``claim``, when given, is called once, after the first turn is taken and right before
    the first call to Telegram (a broadcast commits its recipient as ``sending`` there, so
    that a kill while waiting for the turn loses nobody); when it answers False, nothing
    is sent and ``send`` returns None.

    :raise Blocked: 403; the chat's link is marked inactive (commit to keep that).
    :raise SendFailed: Telegram did not take it (see the module's docstring).
    :raise ValueError: ``text`` is empty or longer than MAX_LENGTH.
    """
    if not text or len(text) > MAX_LENGTH:
        raise ValueError(f"a Telegram message is 1 to {MAX_LENGTH} characters, not {len(text)}")
    bot = sender()
    reply = types.ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
    for attempt in range(1, ATTEMPTS + 1):
        if not wait and (left := paused_for()) > 0:
            raise Throttled(chat_id, left)
        take_turn(chat_id)
        if claim is not None:
            if not claim():
                return None
            claim = None
        try:
            return bot.send_message(chat_id, text, reply_markup=reply_markup,
                                    reply_parameters=reply, disable_notification=quiet or None,
                                    link_preview_options=types.LinkPreviewOptions(is_disabled=True))
        except ApiTelegramException as err:
            if err.error_code == 429:
                seconds = _retry_after(err)
                log.warning("Telegram: 429 for chat %s, pausing %s s (try %s of %s)",
                            chat_id, seconds, attempt, ATTEMPTS)
                pause(seconds)
                if not wait:
                    raise Throttled(chat_id, seconds) from err
                continue
            if err.error_code == 403:
                mark_blocked(chat_id)
                raise Blocked(chat_id, err.description) from err
            raise SendFailed(f"chat {chat_id}: {err.error_code} {err.description}") from err
        except (ApiException, OSError) as err:  # network errors, a broken answer
            raise SendFailed(f"chat {chat_id}: {err}") from err
    raise SendFailed(f"chat {chat_id}: still 429 after {ATTEMPTS} tries")


def take_turn(chat_id: int) -> None:
    """Wait out a pause (a 429 seen by any sender), then a slot overall and in the chat."""
    while (left := paused_for()) > 0:
        time.sleep(min(left, 1.0))
    limiter.wait("telegram-chat", chat_id, most=MAX_PAUSE)
    limiter.wait("telegram-send", "all", most=MAX_PAUSE)


def pause(seconds: float) -> None:
    """Stop every sender of the site for ``seconds`` (Telegram's ``retry_after``)."""
    seconds = min(max(seconds, 0.1), MAX_PAUSE)
    redis = get_redis()
    if redis is not None:
        redis.set(_pause_key(), 1, px=int(seconds * 1000))
    with _lock:
        _local_pause["until"] = max(_local_pause["until"], time.monotonic() + seconds)


def paused_for() -> float:
    """Seconds left of the current pause (0 when there is none)."""
    redis = get_redis()
    left = 0.0
    if redis is not None:
        left = max(redis.pttl(_pause_key()), 0) / 1000
    with _lock:
        return max(left, _local_pause["until"] - time.monotonic())


def mark_blocked(chat_id: int) -> None:
    """The links to ``chat_id`` go inactive (in the caller's transaction)."""
    db.session.execute(update(TelegramLink).where(TelegramLink.chat_id == chat_id,
                                                  TelegramLink.active.is_(True))
                       .values(active=False))


def reactivate(telegram_id: int) -> bool:
    """The user wrote to the bot: their link is active again. True when it was not.
    Commits."""
    done = db.session.execute(update(TelegramLink).where(TelegramLink.telegram_id == telegram_id,
                                                         TelegramLink.active.is_(False))
                              .values(active=True)).rowcount
    db.session.commit()
    return bool(done)


def _retry_after(err: ApiTelegramException) -> float:
    parameters = (err.result_json or {}).get("parameters") or {}
    try:
        return float(parameters.get("retry_after", 1))
    except (TypeError, ValueError):
        return 1.0


def _pause_key() -> str:
    return f"{current_app.config['REDIS_PREFIX']}telegram:pause"
