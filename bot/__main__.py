"""``python -m bot``: Crema's Telegram bot, long polling.

It uses the app's configuration (the environment and ``.env``, as the web process) and
needs ``TELEGRAM_BOT_TOKEN`` and ``TELEGRAM_BOT_USERNAME``. It removes any webhook (a
set one makes getUpdates fail with 409), sets the command menu in English and Russian,
then polls. Exit status: 2 when a setting is missing or the token is refused, 3 when
another process polls the same token (409 Conflict).
"""
import logging
import sys
import threading

from bot import make_bot
from bot.polling import Conflict, Stop, call, poll

log = logging.getLogger("bot")


def main() -> int:
    from webapp import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app()
    missing = [name for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_USERNAME")
               if not app.config.get(name)]
    if missing:
        print(f"python -m bot needs {' and '.join(missing)}: set "
              f"{'them' if len(missing) > 1 else 'it'} in the environment or .env (the token "
              "and the bot's username come from @BotFather).", file=sys.stderr)
        return 2
    bot = make_bot(app)
    stop = threading.Event()
    try:
        start(bot, app, stop)
        log.info("polling as @%s", app.config["TELEGRAM_BOT_USERNAME"])
        poll(bot, app, stop)
    except Conflict as err:
        print(f"python -m bot stops: {err}", file=sys.stderr)
        return 3
    except Stop as err:
        print(f"python -m bot stops: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


def start(bot, app, stop: threading.Event) -> None:
    """Remove any webhook and set the command menu (English, and Russian for ``ru``)."""
    from bot.handlers import menu

    call(bot.delete_webhook, stop)
    with app.app_context():
        commands = {locale: menu(locale) for locale in app.config["LANGUAGES"]}
    default = app.config["BABEL_DEFAULT_LOCALE"]
    call(bot.set_my_commands, stop, commands[default])
    for locale, menu_items in commands.items():
        if locale != default:
            call(bot.set_my_commands, stop, menu_items, language_code=locale)


if __name__ == "__main__":
    sys.exit(main())
