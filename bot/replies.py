"""Two-way chat: a linked user's reply in Telegram to a notification of a chat message
is posted in that room, as them, as a reply to that message; and the notifications'
"Mute this room" / "Unmute this room" buttons.

The reply goes through the web composer's service (webapp.services.chat.post_message):
the same checks of the text, the same flood limit, and the same event that shows it
live on the web. The bot answers each reply: where it was posted, or why not.
"""
import logging

from flask_babel import gettext as _
from sqlalchemy import select
from telebot import TeleBot, types, util

from bot import handlers
from webapp.extensions import db
from webapp.models import Room, TelegramMessage
from webapp.services import (Forbidden, NotFound, RateLimited, ServiceError, chat, follows,
                             telegram)
from webapp.services.telegram_notify import mute_button

log = logging.getLogger(__name__)


def register(bot: TeleBot) -> None:
    """The reply handler (before the catch-all) and the mute buttons' (before the stale
    button's), as bot.handlers.register places them."""
    bot.register_message_handler(reply, func=lambda message: message.reply_to_message is not None,
                                 chat_types=["private"], content_types=util.content_type_media,
                                 pass_bot=True)
    bot.register_callback_query_handler(
        toggle_mute, func=lambda query: (query.data or "").startswith(("mute:room:", "unmute:room:")),
        pass_bot=True)


def client_id(message: types.Message) -> str:
    """The posted message's client id: one Telegram message is posted once, however
    often its update comes."""
    return f"tg:{message.chat.id}:{message.message_id}"


def reply(message: types.Message, bot: TeleBot) -> None:
    """Post a reply to a notification in its room; say how it went."""
    sender = message.from_user
    with handlers.speaking_to(sender):
        text = _answer(message, sender)
        bot.send_message(message.chat.id, text,
                         reply_parameters=types.ReplyParameters(
                             message.message_id, allow_sending_without_reply=True))


def _answer(message: types.Message, sender: types.User) -> str:
    user = telegram.user_of(sender.id)
    if user is None:
        return _("Connect your Crema account first (/start says how); then replies to "
                 "notifications are posted in their rooms.")
    about = db.session.scalar(select(TelegramMessage).where(
        TelegramMessage.chat_id == message.chat.id,
        TelegramMessage.message_id == message.reply_to_message.message_id))
    if about is None or about.user_id != user.id or about.room_id is None \
            or about.chat_message_id is None:
        return _("To post in a chat room, reply to my notification of a message in it. "
                 "/help lists what I can do.")
    if message.content_type != "text":
        return _("Only text can be posted in the chat.")
    try:
        chat.post_message(about.room_id, user.id, message.text or "",
                          reply_to_id=about.chat_message_id, client_id=client_id(message),
                          load=False)
    except RateLimited as err:
        db.session.rollback()
        return _("Not posted: you are sending messages too fast. Try again in %(n)d s.",
                 n=max(int(err.retry_after), 1))
    except NotFound:
        db.session.rollback()
        return _("Not posted: this chat room no longer exists.")
    except Forbidden:
        db.session.rollback()
        return _("Not posted: you may not post in this room.")
    except ServiceError as err:
        db.session.rollback()
        return _("Not posted: %(reason)s", reason=str(err.message))
    room = db.session.get(Room, about.room_id)
    return _("Posted in %(room)s.", room=chat.room_title(room))


def toggle_mute(query: types.CallbackQuery, bot: TeleBot) -> None:
    """``mute:room:<id>`` / ``unmute:room:<id>``: the user's mute of the room; the button
    turns into the other one."""
    action, _room, raw_id = query.data.split(":", 2)
    sender = query.from_user
    with handlers.speaking_to(sender):
        user = telegram.user_of(sender.id)
        room = db.session.get(Room, int(raw_id)) if raw_id.isdigit() and len(raw_id) <= 9 else None
        if user is None or room is None:
            bot.answer_callback_query(query.id, _("This button no longer works."))
            return
        title = chat.room_title(room)
        if action == "mute":
            follows.mute(user.id, room_id=room.id)
            said = _("Muted: you will hear of %(room)s only when someone mentions you or "
                     "replies to you.", room=title)
        else:
            follows.unmute(user.id, room_id=room.id)
            said = _("Unmuted: you will hear of %(room)s again.", room=title)
        bot.answer_callback_query(query.id, said)
        if query.message is not None:
            bot.edit_message_reply_markup(query.message.chat.id, query.message.message_id,
                                          reply_markup=swapped(query.message.reply_markup,
                                                               room.id, action == "mute"))


def swapped(markup: types.InlineKeyboardMarkup | None, room_id: int,
            muted: bool) -> types.InlineKeyboardMarkup:
    """The message's buttons with the room's mute button turned into the other one (in
    the current language); just that button when the message had none."""
    toggled = mute_button(room_id, muted)
    mine = {f"mute:room:{room_id}", f"unmute:room:{room_id}"}
    rows = [[toggled if button.callback_data in mine else button for button in row]
            for row in (markup.keyboard if markup else [])]
    if not any(toggled in row for row in rows):
        rows.append([toggled])
    fresh = types.InlineKeyboardMarkup()
    for row in rows:
        fresh.row(*row)
    return fresh
