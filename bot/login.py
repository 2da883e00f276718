"""Logging in on the site from Telegram: ``/start login_<token>`` (the deep link of the
site's "Log in with Telegram" without JavaScript) asks the linked user to confirm with
two buttons; "Yes" lets the browser that asked sign in, "No" spends the link.

The buttons carry the token itself (64 bytes of callback data at most), not a row id:
a client can send any callback data, but only the holder of the token can name it.
"""
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from telebot import TeleBot, types

from bot import handlers  # its speaking_to, at call time (handlers imports this module)
from webapp.devices import describe
from webapp.services import telegram_login as service
from webapp.services.telegram_login import LoginError

PREFIX = service.START_PREFIX
YES, NO = "login:yes:", "login:no:"


def is_login_start(token: str) -> bool:
    return token.startswith(PREFIX)


def ask(message: types.Message, bot: TeleBot, payload: str) -> None:
    """``/start login_<token>``: "Log in on <site> as @you?" with Yes and No."""
    sender, token = message.from_user, payload[len(PREFIX):]
    with handlers.speaking_to(sender):
        try:
            user = service.asking_user(token, sender.id)
            user_agent, ip = service.asking_client(token)
        except LoginError as refusal:
            bot.send_message(message.chat.id, str(service.LOGIN_REFUSALS[refusal.reason]))
            return
        markup = types.InlineKeyboardMarkup()
        markup.row(types.InlineKeyboardButton(_("Yes, log me in"), callback_data=YES + token),
                   types.InlineKeyboardButton(_("No"), callback_data=NO + token))
        bot.send_message(message.chat.id, _(
            "A browser (%(device)s, address %(ip)s) asks to log in to Crema (%(site)s) as "
            "@%(username)s. Was it you? If you did not ask, press No.",
            device=describe(user_agent), ip=ip or "?", site=site(),
            username=user.username), reply_markup=markup)


def site() -> str:
    return urlsplit(current_app.config["BASE_URL"]).netloc or current_app.config["BASE_URL"]


def is_login_button(query: types.CallbackQuery) -> bool:
    return (query.data or "").startswith((YES, NO))


def answer(query: types.CallbackQuery, bot: TeleBot) -> None:
    """A tap on Yes or No: the token confirmed or spent; the question then says which."""
    sender, data = query.from_user, query.data or ""
    with handlers.speaking_to(sender):
        try:
            if data.startswith(YES):
                user = service.confirm_login(data[len(YES):], sender.id)
                text = _("Done: go back to your browser, it logs you in as @%(username)s.",
                         username=user.username)
            else:
                service.decline_login(data[len(NO):])
                text = _("All right: nobody was logged in.")
        except LoginError as refusal:
            text = str(service.LOGIN_REFUSALS[refusal.reason])
        bot.answer_callback_query(query.id)
        if query.message is not None:
            bot.edit_message_text(text, query.message.chat.id, query.message.message_id)
