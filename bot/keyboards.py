"""The bot's keyboards: the reply keyboard of main actions, and the inline buttons of
search results (follow a coffee) and of /settings (notification kinds on Telegram).

Callback data is what a button sends back; Telegram caps it at 64 bytes, and anyone
can send any, so every value is read back through ``parse`` and anything else is a
button that no longer works:

- ``coffee:follow:<id>`` / ``coffee:unfollow:<id>``
- ``prefs:<kind>:on`` / ``prefs:<kind>:off`` (a kind of ``PREF_KINDS``)

Each names the state it asks for, not a flip, so a tap delivered twice does the same.
"""
import re
from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale, gettext as _, lazy_gettext as _l
from telebot import types

from webapp.models import PREF_KINDS

# The reply keyboard's buttons, by action, in rows.
BUTTONS = {"top": _l("Top"), "latest": _l("Latest"), "search": _l("Search"),
           "settings": _l("Settings"), "help": _l("Help")}
LAYOUT = (("top", "latest"), ("search", "settings"), ("help",))
KIND_LABELS = {"chat": _l("Chat messages"), "mentions": _l("Mentions and replies"),
               "reviews": _l("Reviews of coffees you follow")}
CALLBACK_MAX = 64  # bytes
ID_MAX = 2**31 - 1  # the largest id a column holds

_FOLLOW = re.compile(r"coffee:(follow|unfollow):([1-9][0-9]{0,9})")
_PREF = re.compile(rf"prefs:({'|'.join(PREF_KINDS)}):(on|off)")


def main_keyboard() -> types.ReplyKeyboardMarkup:
    """The main actions, in the current language."""
    markup = types.ReplyKeyboardMarkup(resize_keyboard=True)
    for row in LAYOUT:
        markup.row(*(types.KeyboardButton(str(BUTTONS[action])) for action in row))
    return markup


def in_every_language(label) -> set[str]:
    """``label`` (lazy) in each of the site's languages."""
    texts = set()
    for locale in current_app.config["LANGUAGES"]:
        with force_locale(locale):
            texts.add(str(label))
    return texts


def button_action(message: types.Message) -> str | None:
    """The action of a reply-keyboard button tapped, in any of the site's languages."""
    text = (message.text or "").strip()
    return next((action for action, label in BUTTONS.items()
                 if text in in_every_language(label)), None)


@dataclass(frozen=True)
class Follow:
    coffee_id: int
    on: bool


@dataclass(frozen=True)
class Pref:
    kind: str
    on: bool


def follow_data(coffee_id: int, on: bool) -> str:
    return f"coffee:{'follow' if on else 'unfollow'}:{coffee_id}"


def pref_data(kind: str, on: bool) -> str:
    return f"prefs:{kind}:{'on' if on else 'off'}"


def parse(data: str | None) -> Follow | Pref | None:
    """What a button's callback data asks for; None when it is not one of ours."""
    data = data or ""
    if len(data.encode()) > CALLBACK_MAX:
        return None
    if match := _FOLLOW.fullmatch(data):
        coffee_id = int(match[2])
        return Follow(coffee_id, match[1] == "follow") if coffee_id <= ID_MAX else None
    if match := _PREF.fullmatch(data):
        return Pref(match[1], match[2] == "on")
    return None


def follow_button(coffee_id: int, followed: bool) -> types.InlineKeyboardButton:
    """The button that follows a coffee, or unfollows one ``followed``."""
    label = _("✓ Following") if followed else _("Follow")
    return types.InlineKeyboardButton(label, callback_data=follow_data(coffee_id, not followed))


def results(coffees: list[tuple[int, str]], followed: set[int]) -> types.InlineKeyboardMarkup:
    """A row per search result: open it on the site (numbered as in the text), follow it.
    ``coffees``: (id, URL) each."""
    markup = types.InlineKeyboardMarkup()
    for n, (coffee_id, url) in enumerate(coffees, 1):
        markup.row(types.InlineKeyboardButton(_("%(n)d. Open", n=n), url=url),
                   follow_button(coffee_id, coffee_id in followed))
    return markup


def refollowed(markup: types.InlineKeyboardMarkup,
               followed: set[int]) -> types.InlineKeyboardMarkup:
    """``markup`` (a results message's, as Telegram sent it back) with each follow button
    showing whether the coffee is in ``followed`` now."""
    rows = []
    for row in markup.keyboard:
        buttons = []
        for button in row:
            action = parse(button.callback_data) if button.callback_data else None
            if isinstance(action, Follow):
                button = follow_button(action.coffee_id, action.coffee_id in followed)
            buttons.append(button)
        rows.append(buttons)
    return types.InlineKeyboardMarkup(rows)


def followed_in(markup: types.InlineKeyboardMarkup | None) -> list[int]:
    """The coffees a results message has follow buttons for."""
    if markup is None:
        return []
    actions = (parse(button.callback_data) for row in markup.keyboard for button in row
               if button.callback_data)
    return [action.coffee_id for action in actions if isinstance(action, Follow)]


def prefs(choices: dict[str, bool]) -> types.InlineKeyboardMarkup:
    """A button per notification kind showing whether it is on; a tap turns it over."""
    markup = types.InlineKeyboardMarkup()
    for kind in PREF_KINDS:
        on = choices[kind]
        markup.row(types.InlineKeyboardButton(
            f"{'✅' if on else '⬜'} {KIND_LABELS[kind]}", callback_data=pref_data(kind, not on)))
    return markup
