"""What the bot answers, registered by ``register(bot, app)`` (one call, never at import).

Each handler runs inside the update's app context (bot.handle_update): it reads the
message, calls a service (webapp.services.telegram), and replies in plain text (no
``parse_mode``, so nobody's name or token can inject markup) in the user's language:
the linked account's, else Telegram's ``language_code``, else English. Only private
chats are answered; a group hears nothing from the bot.
"""
import logging
from contextlib import contextmanager

from flask import current_app, url_for
from flask_babel import force_locale, gettext as _, lazy_gettext as _l
from telebot import TeleBot, types, util

from bot import keyboards, login, replies
from webapp.services import telegram
from webapp.text import has_control

log = logging.getLogger(__name__)

# The command menu (setMyCommands) and /help, in this order.
COMMANDS = [
    ("start", _l("Connect your Crema account")),
    ("help", _l("What I can do")),
    ("top", _l("Top-rated coffees")),
    ("search", _l("Find coffees by name, roaster, origin or flavour")),
    ("latest", _l("The newest reviews")),
    ("settings", _l("Which notifications come to Telegram")),
    ("unlink", _l("Disconnect Telegram from your Crema account")),
]
HELP_BUTTON = keyboards.BUTTONS["help"]


def register(bot: TeleBot, app) -> None:
    """Every handler of the bot, in the order a message tries them (``app``: for
    handlers that will need settings when they are registered)."""
    from bot import commands  # it builds on this module's helpers

    private = ["private"]
    commands.register_gates(bot, private)
    bot.register_message_handler(start, commands=["start"], chat_types=private, pass_bot=True)
    bot.register_message_handler(show_help, commands=["help"], chat_types=private, pass_bot=True)
    bot.register_message_handler(show_help, func=is_help_button, chat_types=private,
                                 pass_bot=True)
    bot.register_message_handler(unlink, commands=["unlink"], chat_types=private, pass_bot=True)
    commands.register(bot, private)
    replies.register(bot)  # replies to notifications, their mute buttons (bot/replies.py)
    bot.register_message_handler(unknown, func=lambda message: True, chat_types=private,
                                 content_types=util.content_type_media, pass_bot=True)
    bot.register_callback_query_handler(login.answer, func=login.is_login_button, pass_bot=True)
    bot.register_callback_query_handler(stale_button, func=lambda query: True, pass_bot=True)


def menu(locale: str) -> list[types.BotCommand]:
    """The command menu in ``locale`` (for setMyCommands)."""
    with force_locale(locale):
        return [types.BotCommand(name, str(description)) for name, description in COMMANDS]


def locale_of(sender: types.User | None) -> str:
    """The language to answer ``sender`` in."""
    config = current_app.config
    languages = config["LANGUAGES"]
    if sender is None:
        return config["BABEL_DEFAULT_LOCALE"]
    user = telegram.user_of(sender.id)
    if user is not None and user.locale in languages:
        return user.locale
    code = (sender.language_code or "").split("-")[0].lower()
    return code if code in languages else config["BABEL_DEFAULT_LOCALE"]


@contextmanager
def speaking_to(sender: types.User | None):
    """Translations in ``sender``'s language inside the block."""
    with force_locale(locale_of(sender)):
        yield


def keyboard() -> types.ReplyKeyboardMarkup:
    """The reply keyboard of main actions (bot.keyboards), in the current language."""
    return keyboards.main_keyboard()


def is_help_button(message: types.Message) -> bool:
    """A tap on the keyboard's Help button, in any of the site's languages."""
    return keyboards.button_action(message) == "help"


def settings_url() -> str:
    """The page where a user connects Telegram, on the site (``BASE_URL``)."""
    app = current_app._get_current_object()
    endpoint = "profiles.telegram" if "profiles.telegram" in app.view_functions \
        else "profiles.settings"
    with app.test_request_context("/", base_url=app.config["BASE_URL"]):
        return url_for(endpoint, _external=True)


def _plain(value: str | None) -> str:
    """A name from Telegram as stored: without the control characters no text field takes."""
    return "".join(c for c in (value or "") if not has_control(c))


def start(message: types.Message, bot: TeleBot) -> None:
    """``/start <token>`` links this Telegram account; ``/start`` alone says hello."""
    sender = message.from_user
    token = (util.extract_arguments(message.text or "") or "").strip()
    if not token:
        with speaking_to(sender):
            bot.send_message(message.chat.id, welcome(sender), reply_markup=keyboard())
        return
    if login.is_login_start(token):
        return login.ask(message, bot, token)
    try:
        user = telegram.link(token, sender.id, message.chat.id, _plain(sender.first_name),
                             _plain(sender.username), sender.language_code)
    except telegram.LinkError as refusal:
        with speaking_to(sender):
            bot.send_message(message.chat.id, str(telegram.LINK_REFUSALS[refusal.reason]))
        return
    with speaking_to(sender):
        text = _("Hello, %(name)s! Your Telegram is now connected to Crema as @%(username)s.",
                 name=user.display_name or _plain(sender.first_name) or user.username,
                 username=user.username)
        bot.send_message(message.chat.id, text, reply_markup=keyboard())


def welcome(sender: types.User | None) -> str:
    user = telegram.user_of(sender.id) if sender else None
    if user is not None:
        return _("Hello! This Telegram is connected to Crema as @%(username)s. "
                 "/help lists what I can do.", username=user.username)
    return _("Hello! I'm Crema's bot: I bring Crema, the coffee-tasting community, to "
             "Telegram. To connect your account, open Settings → Telegram on the site "
             "(%(url)s) and press \"Connect Telegram\".", url=settings_url())


def show_help(message: types.Message, bot: TeleBot) -> None:
    with speaking_to(message.from_user):
        lines = [_("What I can do:")]
        lines += [f"/{name} — {description}" for name, description in COMMANDS]
        bot.send_message(message.chat.id, "\n".join(lines), reply_markup=keyboard())


def unlink(message: types.Message, bot: TeleBot) -> None:
    """``/unlink`` disconnects this Telegram account from its Crema account."""
    sender = message.from_user
    with speaking_to(sender):  # the account's language, read before it goes
        user = telegram.unlink_telegram(sender.id)
        if user is None:
            text = _("This Telegram is not connected to any Crema account.")
        else:
            text = _("Done: this Telegram is no longer connected to @%(username)s on Crema.",
                     username=user.username)
        bot.send_message(message.chat.id, text)


def unknown(message: types.Message, bot: TeleBot) -> None:
    with speaking_to(message.from_user):
        bot.send_message(message.chat.id, _("I don't know that; /help lists what I can do."),
                         reply_markup=keyboard())


def stale_button(query: types.CallbackQuery, bot: TeleBot) -> None:
    """A button this bot no longer answers: stop its spinner with a word why."""
    with speaking_to(query.from_user):
        bot.answer_callback_query(query.id, _("This button no longer works."))
