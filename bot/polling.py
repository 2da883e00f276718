"""Long polling: fetch updates with getUpdates and hand each to the handlers.

Raw updates are fetched (``apihelper.get_updates``), not TeleBot's parsed ones: one
malformed update would otherwise fail its whole batch, again on every poll, since the
offset that confirms it would never be sent. A failed call is retried: after
``retry_after`` on 429, with a growing pause (up to ``BACKOFF_MAX`` seconds) on network
errors and 5xx. A 409 Conflict (another poller on the token, or a webhook set) and a
401 (the token is refused) stop the bot: retrying cannot help.
"""
import logging
import threading

import requests
from telebot import TeleBot, apihelper
from telebot.apihelper import ApiException, ApiTelegramException

from bot import ALLOWED_UPDATES, handle_update

log = logging.getLogger(__name__)

LONG_POLL = 25  # seconds Telegram holds an empty getUpdates
BACKOFF_START = 0.5
BACKOFF_MAX = 30.0


class Stop(Exception):
    """Polling cannot go on; ``str()`` says why and what to do."""


class Conflict(Stop):
    pass


class Unauthorized(Stop):
    pass


class Backoff:
    """Pauses that double after each failure in a row, from BACKOFF_START to BACKOFF_MAX."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.delay = BACKOFF_START

    def reset(self) -> None:
        self.delay = BACKOFF_START

    def wait(self, seconds: float | None = None) -> None:
        self.stop.wait(self.delay if seconds is None else seconds)
        if seconds is None:
            self.delay = min(self.delay * 2, BACKOFF_MAX)


def call(func, stop: threading.Event, *args, **kwargs):
    """``func(*args, **kwargs)``, a Bot API call, tried until it succeeds (None if
    ``stop`` is set first).

    :raise Conflict: 409.
    :raise Unauthorized: 401 or 404 (Telegram's answer to a wrong token).
    """
    backoff = Backoff(stop)
    while not stop.is_set():
        try:
            return func(*args, **kwargs)
        except ApiTelegramException as err:
            if err.error_code == 409:
                raise Conflict("Telegram answered 409 Conflict: another bot process is "
                               "polling this token, or a webhook is set (flask telegram "
                               "delete-webhook removes it). Run exactly one python -m bot, "
                               "or use the webhook instead.") from None
            if err.error_code in (401, 404):
                raise Unauthorized(f"Telegram refuses TELEGRAM_BOT_TOKEN ({err.error_code} "
                                   f"{err.description}); set the token @BotFather gave.") from None
            if err.error_code == 429:
                retry_after = (err.result_json.get("parameters") or {}).get("retry_after", 1)
                log.warning("%s: 429, retrying after %s s", err.function_name, retry_after)
                backoff.wait(float(retry_after))
                continue
            log.warning("%s failed (%s %s); retrying in %.1f s", err.function_name,
                        err.error_code, err.description, backoff.delay)
        except (ApiException, requests.RequestException) as err:
            log.warning("Bot API call failed (%s); retrying in %.1f s", err, backoff.delay)
        backoff.wait()
    return None


def poll(bot: TeleBot, app, stop: threading.Event | None = None) -> None:
    """Fetch and handle updates until ``stop`` is set.

    :raise Stop: a 409 Conflict or a refused token.
    """
    stop = stop or threading.Event()
    offset = None
    while not stop.is_set():
        raw = call(apihelper.get_updates, stop, bot.token, offset=offset,
                   allowed_updates=ALLOWED_UPDATES, long_polling_timeout=LONG_POLL)
        for item in raw or []:
            update_id = item.get("update_id") if isinstance(item, dict) else None
            if isinstance(update_id, int) and not isinstance(update_id, bool):
                offset = max(offset or 0, update_id + 1)
            handle_update(bot, app, item)
