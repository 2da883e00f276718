"""Notifications: who is told what, where, exactly once.

The event seam hands each posted message and each new review to a job (webapp.jobs);
the jobs below decide who is told. Every row has a key unique per user, so a job that
runs twice (a retry, a worker killed mid-job) changes nothing the second time:

- ``mention:<message id>``: an ``@username`` of you (never coalesced);
- ``reply:<message id>``: a reply to your message (never coalesced);
- ``chat:<room id>:<5-minute window>``: new messages in a room you posted in or follow,
  counted in place ("3 new messages"), at most one per room per 5 minutes;
- ``review:<review id>``: a new review of a coffee you added or follow.

What each user hears is their choice per kind (``PREF_KINDS``: chat, mentions (and
replies), reviews) and channel (in the app, and each of webapp.services.channels), with
``DEFAULT_PREFS`` where they made none. Someone with every channel of a kind off gets
no row; with only the app's off, a row with ``in_app`` False (kept for the other
channels, hidden from the bell and the list). A mute of a room, or of a coffee (its
reviews and its room), silences all but mentions and replies.

A job's recipients are read with their choices and mutes in one query and written in
one batched statement, however many they are; then each channel gets one job with the
rows it should deliver (webapp.services.channels).
"""
import logging
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import (and_, case, exists, func, literal_column, or_, select, union,
                        union_all, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.jobs import job
from webapp.models import (PREF_KINDS, Coffee, Follow, Mention, Message, Mute, Notification,
                           NotificationPref, Review, Room, User)
from webapp.models.base import utcnow
from webapp.models.notification import CHANNELS as STORED_CHANNELS
from webapp.services import ServiceError
from webapp.services.chat import room_title

log = logging.getLogger(__name__)

CHAT_WINDOW_SECONDS = 300
# A user's choice where they made none: {kind: {channel: on}}; a channel missing here is
# off until chosen.
DEFAULT_PREFS = {
    "chat": {"in_app": True, "email": False, "telegram": False},
    "mentions": {"in_app": True, "email": True, "telegram": True},
    "reviews": {"in_app": True, "email": True, "telegram": True},
}
# The preference that decides each kind of notification.
PREF_KIND = {"mention": "mentions", "reply": "mentions", "chat": "chat", "review": "reviews"}
# One notification per user and message: the first of these they have.
ROLE_ORDER = ("mention", "reply", "chat", "review")
ADDRESSED = ("mention", "reply")  # addressed to the user: no mute silences them


def _insert(model=Notification):
    """An INSERT that can say ON CONFLICT, in the database's own dialect."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def _add_once(rows: list[dict]) -> None:
    """Insert the rows whose (user, key) is new; the others are there already."""
    if rows:
        # One statement run for every row (executemany), not one VALUES list of them
        # all: a thousand rows' VALUES list takes longer to build than to run.
        stmt = _insert().on_conflict_do_nothing(
            index_elements=[Notification.user_id, Notification.key])
        db.session.execute(stmt, rows)


def _constant(value: str, label: str = "role"):
    """A string constant as a column of a select (inlined: a union's columns need a type)."""
    return literal_column(f"'{value}'").label(label)


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
        select(Mention.user_id, _constant("mention")).where(Mention.message_id == message_id),
        select(Message.user_id, _constant("chat")).where(Message.room_id == room_id),
        select(Follow.user_id, _constant("chat")).where(Follow.room_id == room_id)]
    if message.reply_to_id is not None:
        candidates.append(select(Message.user_id, _constant("reply")).where(
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
    stmt = _insert()
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
    added_by = select(Coffee.added_by_id.label("user_id"), _constant("review")).where(
        Coffee.id == review.coffee_id, Coffee.added_by_id.is_not(None))
    followers = select(Follow.user_id, _constant("review")).where(Follow.coffee_id == review.coffee_id)
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
    from webapp.services.channels import CHANNELS

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
    from webapp import jobs
    from webapp.services.channels import CHANNELS

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
    from webapp import jobs

    jobs.enqueue(notify_message, message_id)


def on_review_saved(app, review_id: int, created: bool = False, **_) -> None:
    from webapp import jobs

    if created:
        jobs.enqueue(notify_review, review_id)


# Preferences -----------------------------------------------------------------------

def pref_channels() -> tuple[str, ...]:
    """The channels a choice can name: the app's own, then each registered one."""
    from webapp.services.channels import CHANNELS

    return ("in_app", *CHANNELS)


def default_pref(kind: str, channel: str) -> bool:
    return DEFAULT_PREFS[kind].get(channel, False)


def prefs(user_id: int) -> dict[str, dict[str, bool]]:
    """The user's choices, defaults filled in: ``{kind: {channel: on}}``."""
    chosen = {(kind, channel): enabled for kind, channel, enabled in db.session.execute(
        select(NotificationPref.kind, NotificationPref.channel, NotificationPref.enabled)
        .where(NotificationPref.user_id == user_id))}
    return {kind: {ch: chosen.get((kind, ch), default_pref(kind, ch)) for ch in pref_channels()}
            for kind in PREF_KINDS}


def channel_prefs(user_ids, channel: str) -> dict[tuple[int, str], bool]:
    """``{(user id, kind): on}`` for one channel, defaults filled in, in one query."""
    user_ids = sorted(set(user_ids))
    chosen = {(uid, kind): enabled for uid, kind, enabled in db.session.execute(
        select(NotificationPref.user_id, NotificationPref.kind, NotificationPref.enabled)
        .where(NotificationPref.user_id.in_(user_ids), NotificationPref.channel == channel))}
    return {(uid, kind): chosen.get((uid, kind), default_pref(kind, channel))
            for uid in user_ids for kind in PREF_KINDS}


def save_prefs(user_id: int, enabled: set[tuple[str, str]], channels, email_digest: bool) -> None:
    """Store the user's choice on each of ``channels`` for every kind (on: the pairs in
    ``enabled``), and whether email comes as a daily digest.

    :raise ServiceError: a kind or channel that does not exist.
    """
    channels = list(channels)
    if any(ch not in pref_channels() for ch in channels) or any(
            kind not in PREF_KINDS or ch not in channels for kind, ch in enabled):
        raise ServiceError(_l("There is no such notification setting."))
    _store_prefs([{"user_id": user_id, "kind": kind, "channel": ch,
                   "enabled": (kind, ch) in enabled} for kind in PREF_KINDS for ch in channels])
    db.session.execute(update(User).where(User.id == user_id).values(email_digest=email_digest))
    db.session.commit()


def turn_off(user_id: int, kinds, channel: str) -> bool:
    """Turn ``channel`` off for ``kinds``; False when it was off for all of them already."""
    current = prefs(user_id)
    if not any(current[kind].get(channel) for kind in kinds):
        return False
    _store_prefs([{"user_id": user_id, "kind": kind, "channel": channel, "enabled": False}
                  for kind in kinds])
    db.session.commit()
    return True


def set_pref(user_id: int, kind: str, channel: str, enabled: bool) -> None:
    """Turn one kind on or off on one channel.

    Any channel a choice can be stored for (``models.CHANNELS``) is accepted, registered
    in webapp.services.channels or not yet: the bot's /settings keeps the Telegram
    choices before the Telegram channel sends, so they hold once it does.

    :raise ServiceError: a kind or channel that does not exist.
    """
    if kind not in PREF_KINDS or channel not in STORED_CHANNELS:
        raise ServiceError(_l("There is no such notification setting."))
    _store_prefs([{"user_id": user_id, "kind": kind, "channel": channel, "enabled": enabled}])
    db.session.commit()


def _store_prefs(rows: list[dict]) -> None:
    """Insert these choices, or overwrite them where made before (not committed)."""
    if rows:
        stmt = _insert(NotificationPref).values(rows)
        db.session.execute(stmt.on_conflict_do_update(
            index_elements=[NotificationPref.user_id, NotificationPref.kind,
                            NotificationPref.channel],
            set_={"enabled": stmt.excluded.enabled}))


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


# Follows and mutes -----------------------------------------------------------------

def _target(model, room_id: int | None, coffee_id: int | None):
    return model.room_id == room_id if room_id is not None else model.coffee_id == coffee_id


def _keep(model, user_id: int, room_id: int | None, coffee_id: int | None) -> None:
    """Add the user's follow or mute of a room or a coffee (again: nothing changes)."""
    target = [model.user_id, model.room_id if room_id is not None else model.coffee_id]
    db.session.execute(_insert(model).values(
        user_id=user_id, room_id=room_id, coffee_id=coffee_id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=target))
    db.session.commit()


def _drop(model, user_id: int, room_id: int | None, coffee_id: int | None) -> None:
    db.session.execute(model.__table__.delete().where(
        model.user_id == user_id, _target(model, room_id, coffee_id)))
    db.session.commit()


def follow(user_id: int, room_id: int | None = None, coffee_id: int | None = None) -> None:
    """Follow a room or a coffee (again: nothing changes)."""
    _keep(Follow, user_id, room_id, coffee_id)


def unfollow(user_id: int, room_id: int | None = None, coffee_id: int | None = None) -> None:
    _drop(Follow, user_id, room_id, coffee_id)


def followed_coffees(user_id: int, coffee_ids) -> set[int]:
    """Which of ``coffee_ids`` the user follows, in one query."""
    coffee_ids = sorted(set(coffee_ids))
    if not coffee_ids:
        return set()
    return set(db.session.scalars(select(Follow.coffee_id).where(
        Follow.user_id == user_id, Follow.coffee_id.in_(coffee_ids))))


def following(user_id: int, room_id: int | None = None,
              coffee_id: int | None = None) -> tuple[bool, bool]:
    """(follows the room, follows the coffee), in one query."""
    seen = watching(user_id, room_id, coffee_id)
    return seen.following_room, seen.following_coffee


@dataclass(frozen=True)
class Watching:
    following_room: bool = False
    following_coffee: bool = False
    muted_room: bool = False
    muted_coffee: bool = False


def watching(user_id: int, room_id: int | None = None,
             coffee_id: int | None = None) -> Watching:
    """Whether the user follows and muted the room and the coffee, in one query."""
    def about(model, what: str):
        targets = [column == value for column, value in ((model.room_id, room_id),
                                                         (model.coffee_id, coffee_id))
                   if value is not None]
        return select(_constant(what, "what"), model.room_id, model.coffee_id).where(model.user_id == user_id, or_(*targets))

    if room_id is None and coffee_id is None:
        return Watching()
    found = {(what, "room" if room is not None else "coffee") for what, room, _ in
             db.session.execute(union_all(about(Follow, "follow"), about(Mute, "mute")))}
    return Watching(("follow", "room") in found, ("follow", "coffee") in found,
                    ("mute", "room") in found, ("mute", "coffee") in found)


def mute(user_id: int, room_id: int | None = None, coffee_id: int | None = None) -> None:
    """Hear nothing more of a room, or of a coffee and its room, but what is addressed
    to the user; their follows stay (unmuting brings it all back)."""
    _keep(Mute, user_id, room_id, coffee_id)


def unmute(user_id: int, room_id: int | None = None, coffee_id: int | None = None) -> None:
    _drop(Mute, user_id, room_id, coffee_id)


@dataclass(frozen=True)
class MuteView:
    """A mute as the settings page lists it: a room (``room_id``) or a coffee."""

    room_id: int | None
    coffee_id: int | None
    title: str


def mutes(user_id: int) -> list[MuteView]:
    """The user's mutes, newest first, each with what it silences, in one query."""
    rows = db.session.execute(
        select(Mute, Room, Coffee).outerjoin(Room, Room.id == Mute.room_id)
        .outerjoin(Coffee, Coffee.id == func.coalesce(Mute.coffee_id, Room.coffee_id))
        .where(Mute.user_id == user_id).order_by(Mute.created_at.desc(), Mute.id.desc()))
    return [MuteView(mute.room_id, mute.coffee_id,
                     room_title(room) if room is not None else coffee.name)
            for mute, room, coffee in rows]
