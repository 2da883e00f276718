"""Notifications: who is told what, where, exactly once.

The event seam hands each posted message and each new review to a job (webapp.jobs);
the jobs below decide who is told. Every row has a key unique per user, so a job that
runs twice (a retry, a worker killed mid-job) changes nothing the second time:

- ``mention:<message id>``: an ``@username`` of you (never coalesced);
- ``reply:<message id>``: a reply to your message (never coalesced);
- ``chat:<room id>:<5-minute window>``: new messages in a room you posted in or follow,
  counted in place ("3 new messages"), at most one per room per 5 minutes;
- ``review:<review id>``: a new review of a coffee you added or follow.

What each user hears is their choice per kind and channel (in the app, and each of
webapp.services.channels), defaults filled in: webapp.services.notification_prefs.
Someone with every channel of a kind off gets no row; with only the app's off, a row
with ``in_app`` False (kept for the other channels, hidden from the bell and the list).
Follows and mutes are kept by webapp.services.follows: a mute of a room, or of a coffee
(its reviews and its room), silences all but mentions and replies.

A job's recipients are read with their choices and mutes in one query and written in
one batched statement, however many they are; then each channel gets one job with the
rows it should deliver (webapp.services.channels).
"""
import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import and_, case, exists, func, or_, select, union, update
from sqlalchemy.orm import selectinload

from webapp import jobs
from webapp.extensions import db
from webapp.jobs import job
from webapp.models import (Coffee, Follow, Mention, Message, Mute, Notification,
                           NotificationPref, Review, Room)
from webapp.models.base import utcnow
from webapp.services import constant_column, dialect_insert
from webapp.services.channels import CHANNELS
from webapp.services.notification_prefs import PREF_KIND, default_pref, pref_channels

log = logging.getLogger(__name__)

CHAT_WINDOW_SECONDS = 300
# One notification per user and message: the first of these they have.
ROLE_ORDER = ("mention", "reply", "chat", "review")
ADDRESSED = ("mention", "reply")  # addressed to the user: no mute silences them


def _add_once(rows: list[dict]) -> None:
    """Insert the rows whose (user, key) is new; the others are there already."""
    if rows:
        # One statement run for every row (executemany), not one VALUES list of them
        # all: a thousand rows' VALUES list takes longer to build than to run.
        stmt = dialect_insert(Notification).on_conflict_do_nothing(
            index_elements=[Notification.user_id, Notification.key])
        db.session.execute(stmt, rows)


# Jobs ----------------------------------------------------------------------------

@job
def notify_message(message_id: int) -> None:
    """Tell the people a new chat message concerns (see the module's keys)."""
    found = db.session.execute(select(Message, Room.coffee_id).join(Room, Room.id == Message.room_id)
                               .where(Message.id == message_id)).first()
    if found is None or found.Message.deleted:
        log.info("notify_message: message %s is gone or deleted; nobody to tell", message_id)
        return
    message, coffee_id = found
    author, room_id = message.user_id, message.room_id
    candidates = [
        select(Mention.user_id, constant_column("mention", "role"))
        .where(Mention.message_id == message_id),
        select(Message.user_id, constant_column("chat", "role")).where(Message.room_id == room_id),
        select(Follow.user_id, constant_column("chat", "role")).where(Follow.room_id == room_id)]
    if message.reply_to_id is not None:
        candidates.append(select(Message.user_id, constant_column("reply", "role")).where(
            Message.id == message.reply_to_id, Message.deleted_at.is_(None)))
    audience = _audience(union(*candidates), author, room_id=room_id, coffee_id=coffee_id)
    common = {"actor_id": author, "room_id": room_id, "message_id": message_id,
              "created_at": message.created_at, "updated_at": message.created_at}
    _add_once([{"user_id": uid, "kind": role, "key": f"{role}:{message_id}",
                "in_app": "in_app" in on, **common}
               for uid, (role, on) in sorted(audience.items()) if role in ADDRESSED])
    chat_key = _count_chat_activity(message, common, {
        uid: "in_app" in on for uid, (role, on) in audience.items() if role == "chat"})
    outside = {uid for uid, (_, on) in audience.items() if on - {"in_app"}}
    written = _written(outside, or_(
        Notification.key.in_([f"mention:{message_id}", f"reply:{message_id}"]),
        and_(Notification.key == chat_key, Notification.created_at == message.created_at)))
    db.session.commit()
    _announce(audience, written)


def _count_chat_activity(message: Message, common: dict, in_app: dict[int, bool]) -> str:
    """One notification per room per user per window, counted in place; a message
    already counted (``last_message_id``) is not counted again. Returns the key."""
    window = int(message.created_at.timestamp() // CHAT_WINDOW_SECONDS)
    key = f"chat:{message.room_id}:{window}"
    if not in_app:
        return key
    stmt = dialect_insert(Notification)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Notification.user_id, Notification.key],
        set_={"count": Notification.count + 1, "last_message_id": stmt.excluded.last_message_id,
              "message_id": stmt.excluded.message_id, "actor_id": stmt.excluded.actor_id,
              "updated_at": stmt.excluded.updated_at, "in_app": stmt.excluded.in_app,
              "read_at": None},
        where=Notification.last_message_id < stmt.excluded.last_message_id)
    db.session.execute(stmt, [{"user_id": uid, "kind": "chat", "key": key, "count": 1,
                               "last_message_id": message.id, "in_app": in_app[uid], **common}
                              for uid in sorted(in_app)])  # executemany, as _add_once
    return key


@job
def notify_review(review_id: int) -> None:
    """Tell whoever added the coffee, and its followers, of a new review."""
    review = db.session.get(Review, review_id)
    if review is None:
        log.info("notify_review: review %s is gone; nobody to tell", review_id)
        return
    added_by = select(Coffee.added_by_id.label("user_id"), constant_column("review", "role")).where(
        Coffee.id == review.coffee_id, Coffee.added_by_id.is_not(None))
    followers = select(Follow.user_id, constant_column("review", "role")).where(
        Follow.coffee_id == review.coffee_id)
    audience = _audience(union(added_by, followers), review.user_id, coffee_id=review.coffee_id)
    key = f"review:{review_id}"
    _add_once([{"user_id": uid, "kind": "review", "key": key, "in_app": "in_app" in on,
                "actor_id": review.user_id, "coffee_id": review.coffee_id,
                "review_id": review_id, "created_at": review.created_at,
                "updated_at": review.created_at} for uid, (_, on) in sorted(audience.items())])
    written = _written({uid for uid, (_, on) in audience.items() if on - {"in_app"}},
                       Notification.key == key)
    db.session.commit()
    _announce(audience, written)


def _audience(candidates, actor_id: int, room_id: int | None = None,
              coffee_id: int | None = None) -> dict[int, tuple[str, set[str]]]:
    """Who of ``candidates`` (a union of (user id, role) selects) is told, in one query:
    ``{user id: (role, channels on)}``, the role the first of ROLE_ORDER a user has.
    Not the actor; not whoever muted the room or the coffee, unless addressed; not
    whoever turned every channel of that kind off."""
    found = candidates.subquery()
    pref_kind = case((found.c.role.in_(ADDRESSED), "mentions"), (found.c.role == "chat", "chat"),
                     else_="reviews")
    targets = [column == value for column, value in ((Mute.room_id, room_id),
                                                     (Mute.coffee_id, coffee_id))
               if value is not None]
    muted = exists().where(Mute.user_id == found.c.user_id, or_(*targets))
    rows = db.session.execute(
        select(found.c.user_id, found.c.role, NotificationPref.channel, NotificationPref.enabled)
        .outerjoin(NotificationPref, and_(NotificationPref.user_id == found.c.user_id,
                                          NotificationPref.kind == pref_kind))
        .where(found.c.user_id != actor_id, or_(found.c.role.in_(ADDRESSED), ~muted)))
    roles: dict[int, str] = {}
    chosen: dict[tuple[int, str, str], bool] = {}
    for user_id, role, channel, enabled in rows:
        if user_id not in roles or ROLE_ORDER.index(role) < ROLE_ORDER.index(roles[user_id]):
            roles[user_id] = role
        if channel is not None:
            chosen[(user_id, role, channel)] = enabled
    unreachable = _unreachable(set(roles))
    audience = {}
    for user_id, role in roles.items():
        kind = PREF_KIND[role]
        on = {ch for ch in pref_channels()
              if chosen.get((user_id, role, ch), default_pref(kind, ch))
              and (ch, user_id) not in unreachable}
        if on:
            audience[user_id] = (role, on)
    return audience


def _unreachable(user_ids: set[int]) -> set[tuple[str, int]]:
    """(channel, user id) for each channel of webapp.services.channels that a user
    cannot use (a query per channel that says so, none for the others)."""
    if not user_ids:
        return set()
    return {(name, uid) for name, channel in CHANNELS.items() if channel.reachable
            for uid in user_ids - channel.reachable(user_ids)}


def _written(user_ids: set[int], which) -> list[tuple[int, int]]:
    """(notification id, user id) of the rows just written (or by an earlier run of the
    same job, so a retry still delivers) for ``user_ids``."""
    if not user_ids:
        return []
    return [tuple(row) for row in db.session.execute(
        select(Notification.id, Notification.user_id)
        .where(Notification.user_id.in_(sorted(user_ids)), which).order_by(Notification.id))]


def _announce(audience: dict[int, tuple[str, set[str]]], written: list[tuple[int, int]]) -> None:
    """After the commit: ring the bells of the in-app recipients, then give each channel
    its rows as one job (webapp.services.channels)."""
    ring({uid for uid, (_, on) in audience.items() if "in_app" in on})
    for name, channel in CHANNELS.items():
        ids = [nid for nid, uid in written if name in audience[uid][1]]
        if ids:
            jobs.enqueue(channel.deliver, ids)


def ring(user_ids) -> None:
    """Tell the open pages of each user (webapp.notifications.live) that their bell may
    have changed, after the commit; a broker that cannot be reached only costs the
    live update (the bell is read from the database on the next page)."""
    broker = current_app.extensions["broker"]
    try:
        broker.publish_many((f"user:{user_id}", {"type": "bell"}) for user_id in sorted(user_ids))
    except Exception as exc:
        log.warning("notifications: the bells of %d users not rung (%s)", len(user_ids), exc)


# Event subscribers (after the commit) -----------------------------------------------

def on_message_posted(app, message_id: int, **_) -> None:
    jobs.enqueue(notify_message, message_id)


def on_review_saved(app, review_id: int, created: bool = False, **_) -> None:
    if created:
        jobs.enqueue(notify_review, review_id)


# Reading and marking -------------------------------------------------------------

def _shown(user_id: int):
    """The user's notifications the app shows (not those kept for other channels only)."""
    return and_(Notification.user_id == user_id, Notification.in_app.is_(True))


def unread_count(user_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        _shown(user_id), Notification.read_at.is_(None)))


def latest(user_id: int, limit: int = 20, before: datetime | None = None,
           with_subjects: bool = False) -> list[Notification]:
    """The user's notifications, most recently updated first; ``with_subjects``: with
    who did it, the room (and its coffee) and the coffee loaded, for a page."""
    stmt = select(Notification).where(_shown(user_id))
    if with_subjects:
        stmt = stmt.options(selectinload(Notification.actor),
                            selectinload(Notification.room).selectinload(Room.coffee),
                            selectinload(Notification.coffee))
    if before is not None:
        stmt = stmt.where(Notification.updated_at < before)
    return list(db.session.scalars(stmt.order_by(Notification.updated_at.desc(),
                                                 Notification.id.desc()).limit(limit)))


def get(user_id: int, notification_id: int) -> Notification | None:
    """One of the user's notifications shown in the app (None: no such one of theirs)."""
    return db.session.scalar(select(Notification).where(
        Notification.id == notification_id, _shown(user_id)))


def mark_read(user_id: int, notification_id: int | None = None) -> int:
    """Mark one of the user's notifications read, or all of them; how many changed."""
    stmt = (update(Notification)
            .where(_shown(user_id), Notification.read_at.is_(None))
            .values(read_at=utcnow()))
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    changed = db.session.execute(stmt).rowcount
    db.session.commit()
    if changed:
        ring({user_id})  # the user's other pages
    return changed
