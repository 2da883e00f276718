"""Broadcasts: an admin's message to every linked Telegram user, or to a coffee's followers.

``create`` checks the message, writes the broadcast and one recipient row per active
link of the audience (one ``INSERT … SELECT``), and enqueues ``deliver_broadcast``
(one job id per broadcast, a timeout of hours). The job sends through the outbox
(webapp.services.telegram_send: 25 a second overall, 1 a second per chat, 429s waited
out, 403 marks the link inactive) one recipient at a time:

    pending → sending (committed once the turn is taken, right before the Bot API call)
            → sent | failed | blocked (committed right after it)

A job never sends to a row past ``pending``, so a worker killed in the middle is
retried by RQ and resumes where it stopped, sending nobody a message twice. A row the
killed worker left in ``sending`` is not sent again: the final report counts it as
*unconfirmed* (the message may or may not have reached Telegram). On PostgreSQL the
next row is taken ``FOR UPDATE SKIP LOCKED``, so that two workers share one broadcast.
"""
import hashlib
import logging
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from webapp import jobs
from webapp.extensions import db
from webapp.models import (AUDIENCES, Broadcast, BroadcastRecipient, Coffee, Delivery, Follow,
                           TelegramLink)
from webapp.models.base import utcnow
from webapp.services import NotFound, ServiceError, contains_pattern
from webapp.services import telegram, telegram_send
from webapp.text import has_control, is_visible, normalise

log = logging.getLogger(__name__)

MAX_LENGTH = telegram_send.MAX_LENGTH  # Telegram counts UTF-16 code units
NOBODY = _l("Nobody in this audience has linked Telegram: nothing was sent.")
JOB_TIMEOUT = 12 * 3600  # seconds: 10,000 recipients take about 7 minutes at 25 a second


@dataclass
class Progress:
    """Where a broadcast stands, counted from its recipients."""

    broadcast: Broadcast
    total: int
    pending: int
    sending: int
    sent: int
    failed: int
    blocked: int

    @property
    def done(self) -> bool:
        return self.broadcast.status == "done"

    @property
    def remaining(self) -> int:
        """Not sent yet: pending, plus the one being sent while the job runs."""
        return self.pending + (0 if self.done else self.sending)

    @property
    def unconfirmed(self) -> int:
        """Claimed by a worker that died before it recorded Telegram's answer."""
        return self.sending if self.done else 0

    @property
    def finished(self) -> int:
        return self.sent + self.failed + self.blocked

    @property
    def seconds(self) -> float | None:
        b = self.broadcast
        return (b.finished_at - b.created_at).total_seconds() if b.finished_at else None


def clean_text(value: str) -> str:
    """The message as sent: NFC, newlines as ``\\n``.

    :raise ServiceError: empty or blank, over MAX_LENGTH, or with control characters
        other than newline and tab.
    """
    value = normalise(value.replace("\r\n", "\n").replace("\r", "\n"))
    if not value.strip() or not is_visible(value):
        raise ServiceError(_l("Write the message."), "text")
    if has_control(value):
        raise ServiceError(_l("The message contains control characters; only line breaks "
                              "and tabs are allowed."), "text")
    units = len(value.encode("utf-16-le")) // 2
    if units > MAX_LENGTH:
        raise ServiceError(_l("The message is %(num)d characters long; Telegram takes at "
                              "most %(max)d.", num=units, max=MAX_LENGTH), "text")
    return value


def check_audience(audience: str, coffee_id: int | None) -> int | None:
    """The coffee of the audience (None for everyone).

    :raise ServiceError: an unknown audience, or no such coffee.
    """
    if audience not in AUDIENCES:
        raise ServiceError(_l("Choose who gets the message."), "audience")
    if audience == "all":
        return None
    if coffee_id is None or db.session.get(Coffee, coffee_id) is None:
        raise ServiceError(_l("Choose a coffee whose followers get the message."), "coffee")
    return coffee_id


def _audience(audience: str, coffee_id: int | None):
    """The active links of the audience: (user id, chat id)."""
    query = select(TelegramLink.user_id, TelegramLink.chat_id).where(
        TelegramLink.active.is_(True))
    if audience == "coffee":
        query = query.join(Follow, (Follow.user_id == TelegramLink.user_id)
                           & (Follow.coffee_id == coffee_id))
    return query


def audience_size(audience: str, coffee_id: int | None) -> int:
    """How many linked users would get a broadcast to this audience now.

    :raise ServiceError: see check_audience; nobody in the audience.
    """
    coffee_id = check_audience(audience, coffee_id)
    count = db.session.scalar(select(func.count()).select_from(
        _audience(audience, coffee_id).subquery()))
    if not count:
        raise ServiceError(NOBODY, "audience")
    return count


class AlreadySent(ServiceError):
    """The confirmation ``once`` was used by another request (a double click)."""


def create(author_id: int, text: str, audience: str, coffee_id: int | None = None,
           once: str | None = None) -> Broadcast:
    """Write the broadcast and its recipients, commit, and enqueue its delivery.
    ``once``: the admin's one-time confirmation; it is claimed (``deliveries``, unique)
    in the same transaction, so that parallel requests carrying it make one broadcast.

    :raise AlreadySent: ``once`` was claimed already (nothing is saved).
    :raise ServiceError: a bad message or audience, no bot, or nobody to send to
        (nothing is saved).
    """
    text = clean_text(text)
    coffee_id = check_audience(audience, coffee_id)
    if not telegram.configured():
        raise ServiceError(_l("The site has no Telegram bot (TELEGRAM_BOT_TOKEN)."))
    broadcast = Broadcast(author_id=author_id, text=text, audience=audience, coffee_id=coffee_id)
    db.session.add(broadcast)
    if once is not None:
        db.session.add(Delivery(channel="broadcast", user_id=author_id,
                                key="confirm:" + hashlib.sha256(once.encode()).hexdigest()))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise AlreadySent(_l("This broadcast was sent already (by another click): nothing "
                             "more was sent.")) from None
    who = _audience(audience, coffee_id).add_columns(literal(broadcast.id), literal("pending"))
    db.session.execute(insert(BroadcastRecipient).from_select(
        ["user_id", "chat_id", "broadcast_id", "status"], who))
    broadcast.total = db.session.scalar(select(func.count()).where(
        BroadcastRecipient.broadcast_id == broadcast.id))
    if not broadcast.total:
        db.session.rollback()
        raise ServiceError(NOBODY, "audience")
    db.session.commit()
    jobs.enqueue(deliver_broadcast, broadcast.id, job_id=job_id(broadcast.id),
                 timeout=JOB_TIMEOUT)
    return broadcast


def job_id(broadcast_id: int) -> str:
    """One RQ job id per broadcast (under REDIS_PREFIX, in RQ's characters)."""
    prefix = "".join(c if c.isalnum() or c in "_-" else "-"
                     for c in current_app.config["REDIS_PREFIX"])
    return f"{prefix}broadcast-{broadcast_id}"


def preview(user_id: int, text: str) -> None:
    """Send ``text`` to the user's own linked Telegram, now.

    :raise ServiceError: a bad message, no bot, no active link, or Telegram refused.
    """
    text = clean_text(text)
    if not telegram.configured():
        raise ServiceError(_l("The site has no Telegram bot (TELEGRAM_BOT_TOKEN)."))
    chat_id = db.session.scalar(select(TelegramLink.chat_id).where(
        TelegramLink.user_id == user_id, TelegramLink.active.is_(True)))
    if chat_id is None:
        raise ServiceError(_l("Your account has no linked Telegram: connect it in Settings → "
                              "Telegram to get previews."))
    try:
        telegram_send.send(chat_id, text)
    except telegram_send.Blocked:
        db.session.commit()  # the link is inactive now
        raise ServiceError(_l("Telegram says you blocked the bot: write to it, then try "
                              "again.")) from None
    except (telegram_send.SendFailed, TimeoutError) as err:
        log.warning("broadcast preview to user %s: %s", user_id, err)
        raise ServiceError(_l("Telegram did not take the preview; try again in a "
                              "moment.")) from None


@jobs.job
def deliver_broadcast(broadcast_id: int) -> None:
    """Send the broadcast to each of its pending recipients, then mark it done.
    Idempotent: a run after the end, or beside another run, sends nobody twice."""
    text = db.session.scalar(select(Broadcast.text).where(Broadcast.id == broadcast_id))
    db.session.commit()
    if text is None:
        log.info("broadcast %s: gone", broadcast_id)
        return
    sent = 0
    while (row := _next_pending(broadcast_id)) is not None:
        sent += _deliver(row[0], row[1], text)
    db.session.execute(update(Broadcast).where(Broadcast.id == broadcast_id,
                                               Broadcast.status == "sending")
                       .values(status="done", finished_at=utcnow()))
    db.session.commit()
    log.info("broadcast %s: done (%d sent by this run)", broadcast_id, sent)


def _next_pending(broadcast_id: int) -> tuple[int, int] | None:
    """(recipient id, chat id) of the next pending row. On PostgreSQL the row stays
    locked (skipped by other workers) until the claim commits; on SQLite the read
    transaction ends here, and the claim's conditional update decides."""
    query = (select(BroadcastRecipient.id, BroadcastRecipient.chat_id)
             .where(BroadcastRecipient.broadcast_id == broadcast_id,
                    BroadcastRecipient.status == "pending")
             .order_by(BroadcastRecipient.id).limit(1))
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if postgres:
        query = query.with_for_update(skip_locked=True)
    row = db.session.execute(query).first()
    if not postgres or row is None:
        db.session.commit()
    return None if row is None else (row[0], row[1])


def _deliver(recipient_id: int, chat_id: int, text: str) -> int:
    """Send to one recipient and record the result; 1 when this run sent it."""
    def claim() -> bool:
        done = db.session.execute(update(BroadcastRecipient).where(
            BroadcastRecipient.id == recipient_id, BroadcastRecipient.status == "pending")
            .values(status="sending")).rowcount
        db.session.commit()
        return bool(done)

    status, error = "sent", None
    try:
        if telegram_send.send(chat_id, text, claim=claim) is None:
            return 0  # another worker took it
    except telegram_send.Blocked as err:  # the link went inactive in this transaction
        status, error = "blocked", str(err)
    except (telegram_send.SendFailed, ValueError) as err:
        status, error = "failed", str(err)
    db.session.execute(update(BroadcastRecipient).where(BroadcastRecipient.id == recipient_id,
                                                        BroadcastRecipient.status == "sending")
                       .values(status=status, error=error and error[:200], sent_at=utcnow()))
    db.session.commit()
    return int(status == "sent")


def progress(broadcast_id: int) -> Progress:
    """:raise NotFound: no such broadcast."""
    broadcast = db.session.scalar(select(Broadcast).where(Broadcast.id == broadcast_id).options(
        selectinload(Broadcast.author), selectinload(Broadcast.coffee)))
    if broadcast is None:
        raise NotFound(_l("No such broadcast."))
    counts = dict(db.session.execute(
        select(BroadcastRecipient.status, func.count())
        .where(BroadcastRecipient.broadcast_id == broadcast_id)
        .group_by(BroadcastRecipient.status)).all())
    return Progress(broadcast, broadcast.total, **{s: counts.get(s, 0) for s in (
        "pending", "sending", "sent", "failed", "blocked")})


def recent(page: int, per_page: int) -> Pagination:
    """Past broadcasts, newest first, with their authors."""
    query = (select(Broadcast).options(selectinload(Broadcast.author),
                                       selectinload(Broadcast.coffee))
             .order_by(Broadcast.id.desc()))
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def followed_coffees(query: str = "", limit: int = 100) -> list[tuple[int, str, str, int]]:
    """Coffees with linked followers, most first: (id, name, roaster, linked followers),
    optionally those whose name or roaster contains ``query``."""
    q = (select(Coffee.id, Coffee.name, Coffee.roaster, func.count(TelegramLink.id))
         .join(Follow, Follow.coffee_id == Coffee.id)
         .join(TelegramLink, (TelegramLink.user_id == Follow.user_id)
               & TelegramLink.active.is_(True))
         .group_by(Coffee.id, Coffee.name, Coffee.roaster)
         .order_by(func.count(TelegramLink.id).desc(), Coffee.name).limit(limit))
    if query:
        pattern = contains_pattern(query)
        q = q.where(func.lower(Coffee.name).like(pattern, escape="\\")
                    | func.lower(Coffee.roaster).like(pattern, escape="\\"))
    return [tuple(r) for r in db.session.execute(q).all()]
