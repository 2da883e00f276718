"""Crema's Telegram bot: ``python -m bot`` long-polls (bot.polling); the web app's
``POST /telegram/webhook`` (webapp.telegram) feeds the same dispatcher instead.

``make_bot(app)`` builds a TeleBot for the app's ``TELEGRAM_BOT_TOKEN``, talking to
``TELEGRAM_API_URL``, with the handlers of bot.handlers. ``handle_update(bot, app, raw)``
runs one update (a dict as the Bot API sends it) inside an app context of its own: a
malformed one is logged and skipped, a failing handler is logged and the bot goes on.
Nothing here runs at import.
"""
import logging

from telebot import ExceptionHandler, TeleBot, apihelper, types

from webapp.extensions import db

log = logging.getLogger(__name__)

# What the bot asks Telegram for (getUpdates, setWebhook).
ALLOWED_UPDATES = ["message", "callback_query"]


class LogAndGoOn(ExceptionHandler):
    """A handler's exception: logged with its traceback; the next update is handled."""

    def handle(self, exception: Exception) -> bool:
        log.error("a bot handler failed", exc_info=exception)
        return True


def make_bot(app) -> TeleBot:
    """A bot for ``app`` with every handler registered.

    pyTelegramBotAPI keeps its API address in a module variable: one bot address per
    process, ``TELEGRAM_API_URL``.
    """
    from bot import handlers

    apihelper.API_URL = f"{app.config['TELEGRAM_API_URL']}/bot{{0}}/{{1}}"
    bot = TeleBot(app.config["TELEGRAM_BOT_TOKEN"], threaded=False,
                  exception_handler=LogAndGoOn())
    handlers.register(bot, app)
    return bot


def handle_update(bot: TeleBot, app, raw) -> bool:
    """Run the handlers for one update; False when it was malformed (and skipped)."""
    try:
        update = types.Update.de_json(raw) if isinstance(raw, dict) else None
    except Exception as err:  # whatever shape Telegram (or anyone) sent, the bot goes on
        log.warning("malformed update skipped (%r): %.300r", err, raw)
        return False
    if update is None:
        log.warning("malformed update skipped: %.300r", raw)
        return False
    with app.app_context():
        try:
            _back_from_blocking(update)
            bot.process_new_updates([update])
        except Exception:
            log.exception("update %s failed", getattr(update, "update_id", "?"))
        finally:
            db.session.remove()
    return True


def _back_from_blocking(update: types.Update) -> None:
    """A user who blocked the bot (403, link inactive) and writes to it again gets
    Crema's messages again."""
    from webapp.services.telegram_send import reactivate

    sender = update.message.from_user if update.message else None
    if sender is not None and update.message.chat.type == "private":
        reactivate(sender.id)
