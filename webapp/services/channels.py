"""Where notifications go besides the app: one entry per channel, each its own job.

``CHANNELS`` maps a channel's name (as notification preferences store it) to a
``Channel``: ``deliver(notification_ids)`` is a job (webapp.jobs) that sends those
notifications and must be idempotent (claim a delivery key, as webapp.mail.send_once
does); ``label`` heads its column on /settings/notifications; ``available(user)`` says
whether the user can use it at all (the column shows only then), and ``reachable(ids)``
the same of many users in one query, for the notify jobs (a channel nobody can be
reached on is off for them, so that nobody gets a row for it alone). The notify jobs
(webapp.services.notifications) enqueue one ``deliver`` per channel with the rows just
written that have the channel on; a coalesced chat row only when it is new in its window.

Two channels besides the app: email (below) and Telegram (webapp.services.telegram_notify:
each notification once, ``telegram:notification:<id>``, to users with an active link).

Email goes only to confirmed addresses (``User.email_confirmed_at``), for the kinds with
email on: one mail per notification (``notification:<id>``), or, for users who chose the
digest, nothing then and one mail a day (``send_digest``, ``digest:<user id>:<day>``),
queued by the daily ``digest_round`` that ``python -m worker`` schedules at
``DIGEST_HOUR`` (UTC), or by ``flask notifications send-digests`` (cron, without Redis). Every mail carries a
signed one-click unsubscribe link per kind (RFC 8058).
"""
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable

from flask import current_app, url_for
from flask_babel import gettext, lazy_gettext as _l, ngettext
from itsdangerous import BadSignature, URLSafeSerializer
from rq import Queue, Retry
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp import mail
from webapp.extensions import db
from webapp.jobs import RETRY_INTERVALS, connection, enqueue, job, queue_name
from webapp.models import PREF_KINDS, Notification, Room, User
from webapp.models.base import utcnow
from webapp.services import ServiceError
from webapp.services import notification_prefs, telegram_notify
from webapp.services.chat import room_title

log = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "crema-unsubscribe"
ALL_KINDS = "all"       # an unsubscribe token for every kind (a digest's)
DIGEST_MAX = 50         # notifications listed in one digest; the rest are counted


@dataclass(frozen=True)
class Channel:
    deliver: Callable[[list[int]], None]
    label: object
    available: Callable[[User], bool] = lambda user: True
    # Which of a set of user ids can use the channel at all, in one query (None: all);
    # a channel a user cannot use counts as off for them when the jobs pick recipients.
    reachable: Callable[[set[int]], set[int]] | None = None


# Email ------------------------------------------------------------------------

def _load(stmt) -> list[Notification]:
    return list(db.session.scalars(stmt.options(
        selectinload(Notification.actor), selectinload(Notification.message),
        selectinload(Notification.room).selectinload(Room.coffee),
        selectinload(Notification.coffee), selectinload(Notification.review))))


@job
def send_email_notifications(notification_ids: list[int]) -> None:
    """Mail each notification to its user, once, unless they chose the digest, turned
    email off for its kind since, or have no confirmed address.

    :raise smtplib.SMTPException, OSError: the server refused a mail (the job is tried
        again; the mails already sent are not sent twice).
    """
    found = _load(select(Notification).where(Notification.id.in_(sorted(set(notification_ids)))))
    gone = set(notification_ids) - {n.id for n in found}
    if gone:
        log.info("send_email_notifications: notifications %s are gone; not mailed", sorted(gone))
    users = {u.id: u for u in db.session.scalars(
        select(User).where(User.id.in_({n.user_id for n in found})))}
    wanted = notification_prefs.channel_prefs(users, "email")
    outgoing = []  # rendered first: each send commits, which expires what was loaded
    for n in found:
        user = users[n.user_id]
        if user.email_confirmed_at is None or user.email_digest or \
                not wanted[(user.id, notification_prefs.PREF_KIND[n.kind])]:
            continue
        key = f"notification:{n.id}"
        unsubscribe = unsubscribe_url(user.id, notification_prefs.PREF_KIND[n.kind])
        body = mail.render("notification", user.locale, n=n, summary=summary, excerpt=excerpt,
                           unsubscribe_url=unsubscribe)
        outgoing.append((key, user.id, mail.message(user.email, body, key,
                                                    unsubscribe_headers(unsubscribe))))
    for key, user_id, msg in outgoing:
        mail.send_once(key, user_id, msg)


@job
def send_digest(user_id: int, day: str) -> None:
    """Mail the user one digest of ``day``'s (UTC, ``YYYY-MM-DD``) unread notifications
    of the kinds with email on, once; nothing when there are none.

    :raise smtplib.SMTPException, OSError: as send_email_notifications.
    """
    try:
        start = datetime.combine(date.fromisoformat(day), time(), tzinfo=timezone.utc)
    except (TypeError, ValueError):
        log.info("send_digest: %r is not a day (YYYY-MM-DD); nothing sent", day)
        return
    user = db.session.get(User, user_id)
    if user is None or user.email_confirmed_at is None or not user.email_digest:
        log.info("send_digest: user %s is gone, unconfirmed or not on the digest; "
                 "nothing sent", user_id)
        return
    wanted = notification_prefs.prefs(user_id)
    kinds = [kind for kind, kind_of in notification_prefs.PREF_KIND.items()
             if wanted[kind_of]["email"]]
    found = _load(select(Notification).where(
        Notification.user_id == user_id, Notification.kind.in_(kinds),
        Notification.read_at.is_(None), Notification.created_at >= start,
        Notification.created_at < start + timedelta(days=1))
        .order_by(Notification.created_at, Notification.id))
    if not found:
        return
    key = f"digest:{user_id}:{day}"
    unsubscribe = unsubscribe_url(user_id, ALL_KINDS)
    body = mail.render("digest", user.locale, items=found[:DIGEST_MAX],
                       more=len(found) - DIGEST_MAX, total=len(found), day=start.date(),
                       summary=summary, unsubscribe_url=unsubscribe)
    mail.send_once(key, user_id, mail.message(user.email, body, key,
                                              unsubscribe_headers(unsubscribe)))


def digest_users(day: date) -> list[int]:
    """Who may have a digest of ``day``: confirmed, on the digest, with some unread
    notification made that day."""
    start = datetime.combine(day, time(), tzinfo=timezone.utc)
    return list(db.session.scalars(
        select(Notification.user_id).join(User, User.id == Notification.user_id)
        .where(User.email_digest.is_(True), User.email_confirmed_at.is_not(None),
               Notification.read_at.is_(None), Notification.created_at >= start,
               Notification.created_at < start + timedelta(days=1))
        .distinct().order_by(Notification.user_id)))


def queue_digests(day: date) -> int:
    """One ``send_digest`` job per digest reader of ``day`` (run at once without
    Redis); how many. Running it again sends nothing twice (the digests' keys)."""
    users = digest_users(day)
    for user_id in users:
        enqueue(send_digest, user_id, day.isoformat())
    return len(users)


@job
def digest_round(day: str) -> None:
    """The daily round, run by the worker's scheduler at ``DIGEST_HOUR`` (UTC): the
    digests of ``day``, then the next round, a day later."""
    try:
        wanted = date.fromisoformat(day)
    except (TypeError, ValueError):
        log.info("digest_round: %r is not a day (YYYY-MM-DD); no round", day)
        return
    sent = queue_digests(wanted)
    log.info("digest_round: %d digest(s) of %s queued", sent, day)
    schedule_digest_round(current_app._get_current_object(), after=utcnow())


def schedule_digest_round(app, after: datetime) -> str | None:
    """Put the next digest round (the first ``DIGEST_HOUR`` o'clock UTC after
    ``after``, for the day before it) on the worker's schedule. Its job id is the day's:
    every worker that schedules it schedules the same one. None without Redis (run
    ``flask notifications send-digests`` from cron instead)."""
    redis = connection(app)
    if redis is None:
        return None
    at = after.replace(hour=app.config["DIGEST_HOUR"], minute=0, second=0, microsecond=0)
    if at <= after:
        at += timedelta(days=1)
    day = (at.date() - timedelta(days=1)).isoformat()
    prefix = re.sub(r"[^A-Za-z0-9_-]", "-", app.config["REDIS_PREFIX"])  # RQ's id rules
    job_id = f"{prefix}digest-round-{day}"
    Queue(queue_name(app), connection=redis).enqueue_at(
        at, digest_round, day, job_id=job_id,
        retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS))
    return job_id


def summary(n: Notification) -> str:
    """What happened, in one line of the current language (as the list says it)."""
    actor = n.actor.name if n.actor else gettext("Someone")
    room = room_title(n.room) if n.room is not None else ""
    if n.kind == "mention":
        return gettext("%(name)s mentioned you in %(room)s", name=actor, room=room)
    if n.kind == "reply":
        return gettext("%(name)s replied to you in %(room)s", name=actor, room=room)
    if n.kind == "chat":
        return ngettext("%(num)d new message in %(room)s", "%(num)d new messages in %(room)s",
                        n.count, room=room)
    return gettext("%(name)s reviewed %(coffee)s", name=actor,
                   coffee=n.coffee.name if n.coffee else "")


def excerpt(n: Notification, limit: int = 300) -> str:
    """The message or the review's text, shortened ("" when there is none)."""
    if n.kind in ("mention", "reply") and n.message is not None and not n.message.deleted:
        text = n.message.body
    elif n.kind == "review" and n.review is not None:
        text = n.review.body or ""
    else:
        return ""
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


# Unsubscribing ---------------------------------------------------------------------

def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(user_id: int, kind: str) -> str:
    """A signed token for turning email off for ``kind`` (or ``ALL_KINDS``); it does not
    expire, as a mail may be read long after it came."""
    return _signer().dumps([user_id, kind])


def unsubscribe_url(user_id: int, kind: str) -> str:
    """The absolute address of the unsubscribe page (against BASE_URL)."""
    app = current_app._get_current_object()
    with app.test_request_context("/", base_url=app.config["BASE_URL"]):
        return url_for("notifications.unsubscribe", token=unsubscribe_token(user_id, kind),
                       _external=True)


def unsubscribe_headers(url: str) -> dict:
    """RFC 2369 and RFC 8058: mail clients show an unsubscribe button that POSTs."""
    return {"List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def read_unsubscribe_token(token: str) -> tuple[User, tuple[str, ...]]:
    """The user and the kinds a token is for.

    :raise ServiceError: a forged or damaged token, or one of an account since deleted.
    """
    invalid = ServiceError(_l("This unsubscribe link is not valid. Open it again from the "
                              "email, or change your notification settings after logging in."))
    try:
        user_id, kind = _signer().loads(token)
    except (BadSignature, TypeError, ValueError):
        raise invalid from None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or (kind != ALL_KINDS and kind not in PREF_KINDS):
        raise invalid
    return user, (PREF_KINDS if kind == ALL_KINDS else (kind,))


def subscribed(user_id: int, kinds) -> bool:
    """Whether email is on for any of ``kinds``."""
    current = notification_prefs.prefs(user_id)
    return any(current[kind]["email"] for kind in kinds)


def unsubscribe(user_id: int, kinds) -> bool:
    """Turn email off for ``kinds``; False when it was off already."""
    return notification_prefs.turn_off(user_id, kinds, "email")


CHANNELS: dict[str, Channel] = {
    "email": Channel(send_email_notifications, _l("Email")),
    "telegram": Channel(telegram_notify.deliver, _l("Telegram"),
                        available=telegram_notify.available,
                        reachable=telegram_notify.reachable),
}
