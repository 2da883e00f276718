"""Notifications: who is told what, exactly once.

The event seam hands each posted message and each new review to a job (webapp.jobs);
the jobs below decide who is told. Every row has a key unique per user, so a job that
runs twice (a retry, a worker killed mid-job) changes nothing the second time:

- ``mention:<message id>``: an ``@username`` of you (never coalesced);
- ``reply:<message id>``: a reply to your message (never coalesced);
- ``chat:<room id>:<5-minute window>``: new messages in a room you posted in or follow,
  counted in place ("3 new messages"), at most one per room per 5 minutes;
- ``review:<review id>``: a new review of a coffee you added or follow.

A job's recipients are read in one query and written in one batched statement, however
many they are.
"""
import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.jobs import job
from webapp.models import Coffee, Follow, Mention, Message, Notification, Review, Room
from webapp.models.base import utcnow

log = logging.getLogger(__name__)

CHAT_WINDOW_SECONDS = 300


def _insert(model=Notification):
    """An INSERT that can say ON CONFLICT, in the database's own dialect."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def _add_once(rows: list[dict]) -> None:
    """Insert the rows whose (user, key) is new; the others are there already."""
    if rows:
        stmt = _insert().values(rows).on_conflict_do_nothing(
            index_elements=[Notification.user_id, Notification.key])
        db.session.execute(stmt)


# Jobs ----------------------------------------------------------------------------

@job
def notify_message(message_id: int) -> None:
    """Tell the people a new chat message concerns (see the module's keys)."""
    message = db.session.get(Message, message_id)
    if message is None or message.deleted:
        log.info("notify_message: message %s is gone or deleted; nobody to tell", message_id)
        return
    author, room_id = message.user_id, message.room_id
    common = {"actor_id": author, "room_id": room_id, "message_id": message_id,
              "created_at": message.created_at, "updated_at": message.created_at}
    mentioned = set(db.session.scalars(select(Mention.user_id)
                                       .where(Mention.message_id == message_id))) - {author}
    rows = [{"user_id": uid, "kind": "mention", "key": f"mention:{message_id}", **common}
            for uid in sorted(mentioned)]
    told = set(mentioned) | {author}
    if message.reply_to_id is not None:
        target = db.session.scalar(select(Message.user_id).where(
            Message.id == message.reply_to_id, Message.deleted_at.is_(None)))
        if target is not None and target not in told:
            rows.append({"user_id": target, "kind": "reply", "key": f"reply:{message_id}",
                         **common})
            told.add(target)
    _add_once(rows)
    counted = _count_chat_activity(message, common, told)
    db.session.commit()
    ring({row["user_id"] for row in rows} | counted)


def _count_chat_activity(message: Message, common: dict, told: set[int]) -> set[int]:
    """One notification per room per user per window, counted in place; a message
    already counted (``last_message_id``) is not counted again."""
    room_id = message.room_id
    posters = select(Message.user_id).where(Message.room_id == room_id)
    followers = select(Follow.user_id).where(Follow.room_id == room_id)
    recipients = set(db.session.scalars(union(posters, followers))) - told
    if not recipients:
        return recipients
    window = int(message.created_at.timestamp() // CHAT_WINDOW_SECONDS)
    key = f"chat:{room_id}:{window}"
    stmt = _insert().values([{"user_id": uid, "kind": "chat", "key": key, "count": 1,
                              "last_message_id": message.id, **common}
                             for uid in sorted(recipients)])
    stmt = stmt.on_conflict_do_update(
        index_elements=[Notification.user_id, Notification.key],
        set_={"count": Notification.count + 1, "last_message_id": stmt.excluded.last_message_id,
              "message_id": stmt.excluded.message_id, "actor_id": stmt.excluded.actor_id,
              "updated_at": stmt.excluded.updated_at, "read_at": None},
        where=Notification.last_message_id < stmt.excluded.last_message_id)
    db.session.execute(stmt)
    return recipients


@job
def notify_review(review_id: int) -> None:
    """Tell whoever added the coffee, and its followers, of a new review."""
    review = db.session.get(Review, review_id)
    if review is None:
        log.info("notify_review: review %s is gone; nobody to tell", review_id)
        return
    added_by = select(Coffee.added_by_id).where(Coffee.id == review.coffee_id,
                                                Coffee.added_by_id.is_not(None))
    followers = select(Follow.user_id).where(Follow.coffee_id == review.coffee_id)
    recipients = set(db.session.scalars(union(added_by, followers))) - {review.user_id}
    _add_once([{"user_id": uid, "kind": "review", "key": f"review:{review_id}",
                "actor_id": review.user_id, "coffee_id": review.coffee_id,
                "review_id": review_id, "created_at": review.created_at,
                "updated_at": review.created_at} for uid in sorted(recipients)])
    db.session.commit()
    ring(recipients)


def ring(user_ids) -> None:
    """Tell the open pages of each user (webapp.notifications.live) that their bell may
    have changed, after the commit; a broker that cannot be reached only costs the
    live update (the bell is read from the database on the next page)."""
    broker = current_app.extensions["broker"]
    try:
        for user_id in sorted(user_ids):
            broker.publish(f"user:{user_id}", {"type": "bell"})
    except Exception as exc:
        log.warning("notifications: the bells of %d users not rung (%s)", len(user_ids), exc)


# Event subscribers (after the commit) -----------------------------------------------

def on_message_posted(app, message_id: int, **_) -> None:
    from webapp import jobs

    jobs.enqueue(notify_message, message_id)


def on_review_saved(app, review_id: int, created: bool = False, **_) -> None:
    from webapp import jobs

    if created:
        jobs.enqueue(notify_review, review_id)


# Reading and marking -------------------------------------------------------------

def unread_count(user_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)))


def latest(user_id: int, limit: int = 20, before: datetime | None = None,
           with_subjects: bool = False) -> list[Notification]:
    """The user's notifications, most recently updated first; ``with_subjects``: with
    who did it, the room (and its coffee) and the coffee loaded, for a page."""
    stmt = select(Notification).where(Notification.user_id == user_id)
    if with_subjects:
        stmt = stmt.options(selectinload(Notification.actor),
                            selectinload(Notification.room).selectinload(Room.coffee),
                            selectinload(Notification.coffee))
    if before is not None:
        stmt = stmt.where(Notification.updated_at < before)
    return list(db.session.scalars(stmt.order_by(Notification.updated_at.desc(),
                                                 Notification.id.desc()).limit(limit)))


def get(user_id: int, notification_id: int) -> Notification | None:
    """One of the user's notifications (None: no such one of theirs)."""
    return db.session.scalar(select(Notification).where(
        Notification.id == notification_id, Notification.user_id == user_id))


def mark_read(user_id: int, notification_id: int | None = None) -> int:
    """Mark one of the user's notifications read, or all of them; how many changed."""
    stmt = (update(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=utcnow()))
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    changed = db.session.execute(stmt).rowcount
    db.session.commit()
    if changed:
        ring({user_id})  # the user's other pages
    return changed


def follow(user_id: int, room_id: int | None = None, coffee_id: int | None = None) -> None:
    """Follow a room or a coffee (again: nothing changes)."""
    target = [Follow.user_id, Follow.room_id if room_id is not None else Follow.coffee_id]
    db.session.execute(_insert(Follow).values(
        user_id=user_id, room_id=room_id, coffee_id=coffee_id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=target))
    db.session.commit()


def following(user_id: int, room_id: int | None = None,
              coffee_id: int | None = None) -> tuple[bool, bool]:
    """(follows the room, follows the coffee), in one query."""
    rows = db.session.execute(select(Follow.room_id, Follow.coffee_id).where(
        Follow.user_id == user_id,
        (Follow.room_id == room_id) | (Follow.coffee_id == coffee_id))).all()
    return (any(r.room_id == room_id for r in rows if room_id is not None),
            any(r.coffee_id == coffee_id for r in rows if coffee_id is not None))


def unfollow(user_id: int, room_id: int | None = None, coffee_id: int | None = None) -> None:
    stmt = Follow.__table__.delete().where(Follow.user_id == user_id)
    stmt = stmt.where(Follow.room_id == room_id) if room_id is not None else \
        stmt.where(Follow.coffee_id == coffee_id)
    db.session.execute(stmt)
    db.session.commit()
