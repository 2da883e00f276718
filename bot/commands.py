"""The bot's catalog and account commands: /top, /search, /latest, /settings, the reply
keyboard's buttons, the inline buttons they send, and the flood limit on all of it.

Handlers are registered by bot.handlers.register: ``register_gates`` before any other
(every message and button tap counts against the sender's ``bot-command`` limit),
``register`` among the commands. They read through the services the site uses
(webapp.services.coffees, reviews, follows, notification_prefs) and reply in plain
text.
"""
import logging
from contextlib import contextmanager

from flask import current_app, g, url_for
from flask_babel import format_decimal, format_number, gettext as _, lazy_gettext as _l, ngettext
from telebot import TeleBot, types, util
from telebot.apihelper import ApiTelegramException

from bot import keyboards, messages
from bot.handlers import settings_url, speaking_to
from webapp import searchtext
from webapp.extensions import limiter
from webapp.services import ServiceError
from webapp.services import coffees as coffee_service
from webapp.services import follows, notification_prefs, reviews, telegram
from webapp.services.coffees import CatalogQuery
from webapp.text import has_control

log = logging.getLogger(__name__)

TOP_COUNT = 10
LATEST_COUNT = 10
RESULTS_COUNT = 5
QUERY_MAX = 100  # characters of a search; the catalog's own cap (CatalogQuery.cleaned)
EXCERPT_MAX = 200
CHANNEL = "telegram"  # the notification channel /settings chooses for


def register_gates(bot: TeleBot, private: list[str]) -> None:
    """The flood limit: registered first, it takes every update past the limit."""
    bot.register_message_handler(flooded, func=over_limit, chat_types=private,
                                 content_types=util.content_type_media, pass_bot=True)
    bot.register_callback_query_handler(flooded_button, func=over_limit, pass_bot=True)


def register(bot: TeleBot, private: list[str]) -> None:
    bot.register_message_handler(top, commands=["top"], chat_types=private, pass_bot=True)
    bot.register_message_handler(latest, commands=["latest"], chat_types=private, pass_bot=True)
    bot.register_message_handler(search, commands=["search"], chat_types=private, pass_bot=True)
    bot.register_message_handler(settings, commands=["settings"], chat_types=private,
                                 pass_bot=True)
    bot.register_message_handler(button, func=is_action_button, chat_types=private,
                                 pass_bot=True)
    bot.register_message_handler(search_answer, func=answers_search_prompt, chat_types=private,
                                 pass_bot=True)
    bot.register_callback_query_handler(tap, func=lambda query: keyboards.parse(query.data)
                                        is not None, pass_bot=True)


# The flood limit --------------------------------------------------------------------------

def over_limit(update: types.Message | types.CallbackQuery) -> bool:
    """Count this update against its sender's limit; True when it is past it."""
    sender = update.from_user
    if sender is None:
        return False
    g.bot_flood = limiter.consume("bot-command", sender.id)
    return not g.bot_flood.allowed


def _too_many() -> str:
    return _("Too many messages at once. Please try again in %(n)d s.", n=g.bot_flood.retry_after)


def flooded(message: types.Message, bot: TeleBot) -> None:
    """Nothing is done; the sender hears so once per ``bot-command-notice`` window."""
    if limiter.consume("bot-command-notice", message.from_user.id).allowed:
        with speaking_to(message.from_user):
            bot.send_message(message.chat.id, _too_many())


def flooded_button(query: types.CallbackQuery, bot: TeleBot) -> None:
    """Nothing is done; the tap is answered (Telegram shows a spinner until it is)."""
    with speaking_to(query.from_user):
        bot.answer_callback_query(query.id, _too_many())


# Commands ---------------------------------------------------------------------------------

@contextmanager
def on_site():
    """``url_for(..., _external=True)`` inside the block gives the site's URLs (BASE_URL)."""
    app = current_app._get_current_object()
    with app.test_request_context("/", base_url=app.config["BASE_URL"]):
        yield


def coffee_urls(ids: list[int]) -> dict[int, str]:
    with on_site():
        return {i: url_for("coffees.show", coffee_id=i, _external=True) for i in ids}


def _ratings(coffee) -> str:
    if not coffee.rating_count:
        return _("no ratings yet")
    return _("★ %(score)s (%(ratings)s)",
             score=format_decimal(round(coffee.rating_mean or 0, 1), format="0.0"),
             ratings=ngettext("%(num)d rating", "%(num)d ratings", coffee.rating_count))


def coffee_line(n: int, coffee, url: str | None = None) -> str:
    """A numbered line for a coffee (a Coffee or a CardCoffee), its URL below it."""
    line = f"{n}. {coffee.name} — {coffee.roaster} · {_ratings(coffee)}"
    return f"{line}\n{url}" if url else line


def top(message: types.Message, bot: TeleBot) -> None:
    """``/top``: the best rated coffees, ranked as the catalog's "top rated"."""
    coffees = coffee_service.top_rated(TOP_COUNT)
    urls = coffee_urls([c.id for c in coffees])
    send_list(message, bot, _l("Top rated on Crema:"),
              _l("No coffee has enough ratings to rank yet."),
              lambda: [coffee_line(n, c, urls[c.id]) for n, c in enumerate(coffees, 1)])


def latest(message: types.Message, bot: TeleBot) -> None:
    """``/latest``: the newest reviews, each with its coffee, author, rating and words."""
    found = reviews.latest_reviews(LATEST_COUNT)
    urls = coffee_urls([r.coffee_id for r in found])
    send_list(message, bot, _l("Newest reviews:"), _l("No reviews yet."),
              lambda: [review_entry(r, urls[r.coffee_id]) for r in found])


def send_list(message: types.Message, bot: TeleBot, heading, empty, entries) -> None:
    """``heading`` and the ``entries()`` (made in the sender's language), a blank line
    between them, in as many messages as that takes; ``empty`` when there are none."""
    with speaking_to(message.from_user):
        lines = entries()
        text = "\n\n".join([str(heading), *lines]) if lines else str(empty)
        messages.send(bot, message.chat.id, text)


def review_entry(review, url: str) -> str:
    entry = _("%(coffee)s (%(roaster)s): ★ %(rating)s by %(author)s",
              coffee=review.coffee.name, roaster=review.coffee.roaster,
              rating=format_decimal(review.stars, format="0.#"),
              author=review.user.display_name or f"@{review.user.username}")
    if review.body.strip():
        entry += f"\n“{_excerpt(review.body)}”"
    return f"{entry}\n{url}"


def _excerpt(body: str) -> str:
    text = " ".join((body or "").split())
    return text if len(text) <= EXCERPT_MAX else text[:EXCERPT_MAX - 1].rstrip() + "…"


def search(message: types.Message, bot: TeleBot) -> None:
    """``/search <text>``; without text, ask for it."""
    show_results(message, bot, util.extract_arguments(message.text or "") or "")


def ask_for_search(message: types.Message, bot: TeleBot) -> None:
    with speaking_to(message.from_user):
        bot.send_message(message.chat.id, str(SEARCH_PROMPT), reply_markup=types.ForceReply(
            input_field_placeholder=_("e.g. ethiopia natural")))


def answers_search_prompt(message: types.Message) -> bool:
    """A reply to the bot's "what should I search for?" (in any language): the search text."""
    asked = message.reply_to_message
    if asked is None or asked.from_user is None or not asked.from_user.is_bot:
        return False
    return asked.text in keyboards.in_every_language(SEARCH_PROMPT)


def search_answer(message: types.Message, bot: TeleBot) -> None:
    show_results(message, bot, message.text or "")


def show_results(message: types.Message, bot: TeleBot, text: str) -> None:
    """The coffees matching ``text``, each with buttons to open and follow it."""
    if not text.strip():
        ask_for_search(message, bot)
        return
    with speaking_to(message.from_user):
        refusal = refuse_query(text)
        text = " ".join(text.split())
        page = None
        if refusal is None and searchtext.words(text):
            page = coffee_service.search_catalog(CatalogQuery(q=text).cleaned(), RESULTS_COUNT,
                                                 current_app.config["CATALOG_COUNT_CAP"])
        if refusal is not None or page is None or not page.items:
            bot.send_message(message.chat.id, refusal or _("No coffees match “%(q)s”.", q=text))
            return
        cards = coffee_service.card_coffees([row.id for row in page.items])
        ids = [row.id for row in page.items if row.id in cards]  # none deleted meanwhile
        user = telegram.user_of(message.from_user.id)
        followed = follows.followed_coffees(user.id, ids) if user else set()
        total = f"{format_number(page.cap)}+" if page.capped else format_number(page.total)
        lines = [_("Coffees matching “%(q)s” (%(total)s):", q=text, total=total)]
        lines += [coffee_line(n, cards[i]) for n, i in enumerate(ids, 1)]
        markup = keyboards.results(list(coffee_urls(ids).items()), followed)
        messages.send(bot, message.chat.id, "\n".join(lines), reply_markup=markup)


def refuse_query(text: str) -> str | None:
    """Why ``text`` cannot be searched for (checked before it reaches the database)."""
    if has_control(text):
        return _("Remove the control characters.")
    if len(" ".join(text.split())) > QUERY_MAX:
        return _("That is too long to search for: at most %(n)d characters.", n=QUERY_MAX)
    return None


def settings(message: types.Message, bot: TeleBot) -> None:
    """``/settings``: a button per notification kind on Telegram, for a linked account."""
    with speaking_to(message.from_user):
        user = telegram.user_of(message.from_user.id)
        if user is None:
            bot.send_message(message.chat.id, not_linked())
            return
        choices = telegram_prefs(user.id)
        bot.send_message(message.chat.id, settings_text(choices),
                         reply_markup=keyboards.prefs(choices))


def telegram_prefs(user_id: int) -> dict[str, bool]:
    chosen = notification_prefs.channel_prefs([user_id], CHANNEL)
    return {kind: on for (_user, kind), on in chosen.items()}


def settings_text(choices: dict[str, bool]) -> str:
    lines = [_("Notifications in Telegram (tap to turn on or off):")]
    lines += [pref_line(kind, on) for kind, on in choices.items()]
    return "\n".join(lines)


def pref_line(kind: str, on: bool) -> str:
    label = keyboards.KIND_LABELS[kind]
    return _("%(kind)s: on", kind=label) if on else _("%(kind)s: off", kind=label)


def not_linked() -> str:
    return _("Connect your Crema account first: open Settings → Telegram on the site "
             "(%(url)s).", url=settings_url())


def is_action_button(message: types.Message) -> bool:
    return keyboards.button_action(message) in ACTIONS


def button(message: types.Message, bot: TeleBot) -> None:
    """A tap on the reply keyboard: as the command."""
    ACTIONS[keyboards.button_action(message)](message, bot)


ACTIONS = {"top": top, "latest": latest, "search": ask_for_search, "settings": settings}
SEARCH_PROMPT = _l("What should I search for? Send a coffee, roaster, "
                               "origin or flavour.")


# Inline buttons ---------------------------------------------------------------------------

def tap(query: types.CallbackQuery, bot: TeleBot) -> None:
    """A follow or settings button: do what it asks, show the new state, answer the tap."""
    action = keyboards.parse(query.data)
    with speaking_to(query.from_user):
        user = telegram.user_of(query.from_user.id)
        if user is None:
            bot.answer_callback_query(query.id, not_linked(), show_alert=True)
            return
        try:
            if isinstance(action, keyboards.Follow):
                answer = follow(user.id, action, query, bot)
            else:
                answer = set_pref(user.id, action, query, bot)
        except ServiceError:  # NotFound too: a coffee gone since the button was sent
            answer = _("This button no longer works.")
        bot.answer_callback_query(query.id, answer)


def follow(user_id: int, action: keyboards.Follow, query: types.CallbackQuery,
           bot: TeleBot) -> str:
    """:raise NotFound: the coffee is gone (or never was)."""
    coffee = coffee_service.get_coffee(action.coffee_id)
    if action.on:
        follows.follow(user_id, coffee_id=coffee.id)
    else:
        follows.unfollow(user_id, coffee_id=coffee.id)
    message = query.message
    shown = keyboards.followed_in(getattr(message, "reply_markup", None))
    if shown:
        followed = follows.followed_coffees(user_id, shown)
        _edit(bot.edit_message_reply_markup, message.chat.id, message.message_id,
              reply_markup=keyboards.refollowed(message.reply_markup, followed))
    if action.on:
        return _("Following %(name)s.", name=coffee.name)
    return _("No longer following %(name)s.", name=coffee.name)


def set_pref(user_id: int, action: keyboards.Pref, query: types.CallbackQuery,
             bot: TeleBot) -> str:
    notification_prefs.set_pref(user_id, action.kind, CHANNEL, action.on)
    choices = telegram_prefs(user_id)
    message = query.message
    if getattr(message, "chat", None) is not None:
        _edit(bot.edit_message_text, settings_text(choices), message.chat.id,
              message.message_id, reply_markup=keyboards.prefs(choices))
    return pref_line(action.kind, action.on)


def _edit(method, *args, **kwargs) -> None:
    """Show the new state under a button; a message Telegram will not edit (unchanged
    since a tap delivered twice, deleted, too old) is left as it is, and the tap is still
    answered."""
    try:
        method(*args, **kwargs)
    except ApiTelegramException as err:
        log.info("%s refused (%s %s)", err.function_name, err.error_code, err.description)
