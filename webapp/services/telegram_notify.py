"""Notifications in Telegram: the ``telegram`` channel (webapp.services.channels).

``deliver(notification_ids)`` sends each notification to its user's linked, active
Telegram, once: the delivery key ``telegram:notification:<id>`` is claimed in the
transaction that sends, with the ``TelegramMessage`` that records what the message was
about (so that a reply to it is posted in its room: bot.replies). Texts are plain, in
the recipient's language: who, where, and a quote of the message (or the review), with
the count for chat activity; buttons "Open" (the message on the site) and, for a room,
"Mute this room" (``mute:room:<id>``, answered by the bot).

Sending goes through the outbox (webapp.services.telegram_send): a user who blocked the
bot (403) has their link marked inactive and the others still get theirs; any other
failure fails the job after the rest were tried, and RQ tries it again (what went out
already is not sent twice). When Telegram asks to wait (429), the job does not hold its
worker: it queues the notifications not sent yet as a new job for after ``retry_after``
(without Redis, where nothing runs later, it waits).
"""
import logging

from flask import current_app, url_for
from flask_babel import force_locale, gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from telebot import types

from webapp.extensions import db
from webapp import jobs
from webapp.jobs import job
from webapp.models import Delivery, Notification, Room, TelegramLink, TelegramMessage, User
from webapp.services import notification_prefs, telegram
from webapp.services.telegram_send import Blocked, SendFailed, Throttled, send

log = logging.getLogger(__name__)

CHANNEL = "telegram"
QUOTE_MAX = 500  # characters of a message or review quoted in a notification


def reachable(user_ids: set[int]) -> set[int]:
    """Those of ``user_ids`` the bot can write to: it is configured, and their link is
    active."""
    if not user_ids or not telegram.configured():
        return set()
    return set(db.session.scalars(select(TelegramLink.user_id).where(
        TelegramLink.user_id.in_(sorted(user_ids)), TelegramLink.active.is_(True))))


def available(user: User) -> bool:
    """Whether the user can hear from the bot (the settings page's Telegram column)."""
    return bool(reachable({user.id}))


def delivery_key(notification_id: int) -> str:
    return f"{CHANNEL}:notification:{notification_id}"


@job
def deliver(notification_ids: list[int]) -> None:
    """Send each notification to its user's Telegram, once, unless they turned Telegram
    off for its kind since, or have no active link.

    :raise SendFailed: Telegram did not take some message (the job is tried again; the
        ones sent are not sent twice).
    """
    if not telegram.configured():
        log.info("telegram deliver: no TELEGRAM_BOT_TOKEN; %d notification(s) not sent",
                 len(notification_ids))
        return
    found = _load(notification_ids)
    links = {link.user_id: link for link in db.session.scalars(
        select(TelegramLink).where(TelegramLink.user_id.in_({n.user_id for n in found}),
                                   TelegramLink.active.is_(True)))}
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(links)))}
    wanted = notification_prefs.channel_prefs(users, CHANNEL)
    outgoing = []  # rendered first: each send commits, which expires what was loaded
    for n in found:
        link = links.get(n.user_id)
        if link is None or not wanted[(n.user_id, notification_prefs.PREF_KIND[n.kind])]:
            continue
        text, markup = render(n, users[n.user_id].locale)
        about = {"user_id": n.user_id, "notification_id": n.id, "room_id": n.room_id,
                 "chat_message_id": n.message_id if n.room_id is not None else None}
        outgoing.append((n.id, link.chat_id, text, markup, about))
    failed = []
    later = jobs.connection(current_app) is not None  # a 429 queues the rest for later
    for n, (notification_id, chat_id, text, markup, about) in enumerate(outgoing):
        try:
            send_once(notification_id, chat_id, text, markup, about, wait=not later)
        except Blocked:
            log.info("telegram deliver: chat %s blocked the bot; link made inactive", chat_id)
        except Throttled as err:
            rest = [row[0] for row in outgoing[n:]]
            log.info("telegram deliver: Telegram asks to wait %.1f s; %d notification(s) "
                     "queued for then", err.retry_after, len(rest))
            jobs.enqueue_in(err.retry_after, deliver, rest)
            break
        except SendFailed as err:
            failed.append(str(err))
    if failed:
        raise SendFailed(f"{len(failed)} of {len(outgoing)} not sent: {'; '.join(failed)}")


def send_once(notification_id: int, chat_id: int, text: str, markup, about: dict,
              wait: bool = True) -> bool:
    """Send one notification unless it went out already; True when sent now. Commits
    (the claim, the sent message's record; on 403 the claim and the inactive link).

    :raise Blocked: 403 (committed: it is not tried again).
    :raise SendFailed: nothing is claimed; a retry sends it.
    """
    # A plain flush, as webapp.mail.send_once (a SAVEPOINT on SQLite would commit it).
    db.session.add(Delivery(channel=CHANNEL, key=delivery_key(notification_id),
                            user_id=about["user_id"]))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        log.info("telegram notification %s was sent before; not again", notification_id)
        return False
    try:
        sent = send(chat_id, text, reply_markup=markup, wait=wait)
    except Blocked:
        db.session.commit()
        raise
    except Exception:
        db.session.rollback()
        raise
    db.session.add(TelegramMessage(chat_id=chat_id, message_id=sent.message_id, **about))
    db.session.commit()
    return True


def _load(notification_ids) -> list[Notification]:
    ids = sorted(set(notification_ids))
    found = list(db.session.scalars(select(Notification).where(Notification.id.in_(ids))
                                    .order_by(Notification.id).options(
        selectinload(Notification.actor), selectinload(Notification.message),
        selectinload(Notification.room).selectinload(Room.coffee),
        selectinload(Notification.coffee), selectinload(Notification.review))))
    gone = set(ids) - {n.id for n in found}
    if gone:
        log.info("telegram deliver: notifications %s are gone; not sent", sorted(gone))
    return found


# What is sent ---------------------------------------------------------------------

def render(n: Notification, locale: str | None) -> tuple[str, types.InlineKeyboardMarkup]:
    """The text and buttons of ``n`` in ``locale`` (the default language if None)."""
    from webapp.services.channels import summary

    app = current_app._get_current_object()
    with app.test_request_context("/", base_url=app.config["BASE_URL"]), \
            force_locale(locale or app.config["BABEL_DEFAULT_LOCALE"]):
        lines = [summary(n)]
        quoted = quote(n)
        if quoted:
            lines += ["", quoted]
        if n.room_id is not None and n.message_id is not None:
            lines += ["", _("Reply to this message to answer in the room.")]
        markup = types.InlineKeyboardMarkup()
        buttons = [types.InlineKeyboardButton(_("Open"), url=open_url(n))]
        if n.room_id is not None:
            buttons.append(mute_button(n.room_id, muted=False))
        markup.row(*buttons)
    return "\n".join(lines), markup


def quote(n: Notification) -> str:
    """The message (for chat activity: the latest, with its author) or the review's
    text, cut at QUOTE_MAX characters; "" when there is none."""
    if n.kind == "review":
        text = n.review.body if n.review is not None else ""
    elif n.message is None or n.message.deleted:
        return ""
    elif n.kind == "chat":
        author = n.actor.name if n.actor else _("Someone")
        text = f"{author}: {n.message.body}"
    else:
        text = n.message.body
    text = text or ""
    return text if len(text) <= QUOTE_MAX else text[:QUOTE_MAX - 1].rstrip() + "…"


def open_url(n: Notification) -> str:
    """The absolute address of what ``n`` is about, as the bell leads there (a chat
    message in its room, with its anchor; a review on its coffee's page). Inside a
    request context."""
    if n.room_id is not None and n.message_id is not None:
        return url_for("chat.room", room_id=n.room_id, before=n.message_id + 1,
                       _external=True) + f"#msg-{n.message_id}"
    if n.coffee_id is not None and n.review_id is not None:
        return url_for("coffees.show", coffee_id=n.coffee_id, _external=True) + \
            f"#review-{n.review_id}"
    return url_for("notifications.index", _external=True)


def mute_button(room_id: int, muted: bool) -> types.InlineKeyboardButton:
    """"Mute this room", or "Unmute this room" once muted (in the current language)."""
    if muted:
        return types.InlineKeyboardButton(_("Unmute this room"),
                                          callback_data=f"unmute:room:{room_id}")
    return types.InlineKeyboardButton(_("Mute this room"), callback_data=f"mute:room:{room_id}")
