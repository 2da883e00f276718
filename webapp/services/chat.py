"""Chat: rooms, posting, editing and deleting messages, history and read marks.

The socket, the pages and the bot call these functions; each change records an event
(``message_posted``, ``message_edited``, ``message_deleted``) that subscribers hear
after the commit, so nobody receives a message that is not stored.
"""
import math
import re
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from webapp import events
from webapp.database import locked
from webapp.extensions import db, limiter
from webapp.models import Coffee, Mention, Message, Room, RoomRead, User
from webapp.models.base import utcnow
from webapp.models.chat import MESSAGE_MAX
from webapp.services import Forbidden, NotFound, RateLimited, ServiceError
from webapp.text import has_control, is_visible, normalise

EDIT_WINDOW = timedelta(minutes=15)
REPEAT_WINDOW = timedelta(seconds=30)
CLIENT_ID_MAX = 64
HISTORY_MAX = 200
# Seeded by migration 0008 (and `flask seed`); titles are translated for display.
TOPIC_ROOMS = {"general": _l("General"), "brewing": _l("Brewing"), "gear": _l("Gear")}
# "@name" not preceded by a word character or "@", so that an e-mail address is no mention.
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_-]{3,32})")


# Rooms -------------------------------------------------------------------------

def get_room(room_id: int) -> Room:
    """:raise NotFound: unknown room."""
    room = db.session.scalar(select(Room).where(Room.id == room_id)
                             .options(selectinload(Room.coffee)))
    if room is None:
        raise NotFound(_l("No such room."))
    return room


def room_title(room: Room) -> str:
    """The room's name as shown: the coffee's name, or the topic's in the current language."""
    if room.kind == "coffee":
        coffee = room.__dict__.get("coffee") or db.session.get(Coffee, room.coffee_id)
        return coffee.name
    return str(TOPIC_ROOMS.get(room.slug, room.title))


def topic_rooms() -> list[Room]:
    return list(db.session.scalars(select(Room).where(Room.kind == "topic").order_by(Room.id)))


def ensure_topic_rooms() -> int:
    """Create the topic rooms that are missing (as migration 0008 does); returns how many."""
    have = set(db.session.scalars(select(Room.slug).where(Room.kind == "topic")))
    missing = [slug for slug in TOPIC_ROOMS if slug not in have]
    for slug in missing:
        db.session.add(Room(kind="topic", slug=slug, title=slug.capitalize()))
    db.session.commit()
    return len(missing)


def room_for_coffee(coffee_id: int) -> Room:
    """The coffee's room, created on first use; parallel first uses create one room.

    :raise NotFound: unknown coffee.
    """
    room = _coffee_room(coffee_id)
    if room is not None:
        return room
    if db.session.get(Coffee, coffee_id) is None:
        raise NotFound(_l("No such coffee."))
    try:
        with db.session.begin_nested():
            db.session.add(Room(kind="coffee", coffee_id=coffee_id))
    except IntegrityError:  # another request created it a moment ago: uq_rooms_coffee_id
        pass
    db.session.commit()
    return _coffee_room(coffee_id)


def _coffee_room(coffee_id: int) -> Room | None:
    return db.session.scalar(select(Room).where(Room.coffee_id == coffee_id)
                             .execution_options(populate_existing=True))


@dataclass
class RoomSummary:
    room: Room
    last_message: Message | None
    unread: int  # 0 for a visitor

    @property
    def title(self) -> str:
        return room_title(self.room)


def rooms_overview(user_id: int | None, limit: int = 50) -> list[RoomSummary]:
    """The topic rooms, then the ``limit`` coffee rooms with the latest activity (a
    coffee room nobody has written in is left out), each with its last message and, for
    a user, how many messages others posted after the user's read mark. A fixed number
    of queries whatever the number of rooms."""
    last_ids = dict(db.session.execute(
        select(Message.room_id, func.max(Message.id)).group_by(Message.room_id)).all())
    active = sorted(last_ids, key=last_ids.get, reverse=True)
    rooms = list(db.session.scalars(
        select(Room).options(selectinload(Room.coffee))
        .where((Room.kind == "topic") | Room.id.in_(active[:limit + 3]))))
    topics = sorted((r for r in rooms if r.kind == "topic"), key=lambda r: r.id)
    coffees = sorted((r for r in rooms if r.kind == "coffee"),
                     key=lambda r: -last_ids[r.id])[:limit]
    shown = topics + coffees
    wanted = [last_ids[r.id] for r in shown if r.id in last_ids]
    last = {m.room_id: m for m in db.session.scalars(
        select(Message).where(Message.id.in_(wanted))
        .options(selectinload(Message.user)))} if wanted else {}
    unread = _unread_counts(user_id) if user_id is not None else {}
    return [RoomSummary(r, last.get(r.id), unread.get(r.id, 0)) for r in shown]


def _unread_counts(user_id: int) -> dict[int, int]:
    """Room id -> messages by others, not deleted, after the user's read mark (none: all)."""
    mark = func.coalesce(RoomRead.last_read_message_id, 0)
    stmt = (select(Message.room_id, func.count())
            .select_from(Message)
            .outerjoin(RoomRead, and_(RoomRead.room_id == Message.room_id,
                                      RoomRead.user_id == user_id))
            .where(Message.id > mark, Message.user_id != user_id, Message.deleted_at.is_(None))
            .group_by(Message.room_id))
    return dict(db.session.execute(stmt).all())


def mark_read(room_id: int, user_id: int, message_id: int) -> None:
    """The user has read the room up to ``message_id``; a mark never moves back.

    :raise NotFound: no such message in that room.
    """
    if db.session.scalar(select(Message.id).where(Message.id == message_id,
                                                  Message.room_id == room_id)) is None:
        raise NotFound(_l("No such message."))
    forward = (update(RoomRead).where(RoomRead.user_id == user_id, RoomRead.room_id == room_id,
                                      RoomRead.last_read_message_id < message_id)
               .values(last_read_message_id=message_id))
    if db.session.execute(forward).rowcount == 0:
        try:
            with db.session.begin_nested():
                db.session.add(RoomRead(user_id=user_id, room_id=room_id,
                                        last_read_message_id=message_id))
        except IntegrityError:  # a row exists, already at or past message_id, or just made
            db.session.execute(forward)
    db.session.commit()


# Messages ----------------------------------------------------------------------

def may_post(user_id: int | None) -> bool:
    """Whether this user may post now (any existing account; checked again per message)."""
    return user_id is not None and db.session.get(User, user_id) is not None


def clean_body(body: str) -> str:
    """A message body as stored: NFC, line breaks as ``\\n``, no trailing whitespace.

    :raise ServiceError: empty or whitespace only, too long, or a control character.
    """
    body = normalise((body or "").replace("\r\n", "\n"))
    # Checked before stripping: str.rstrip() also removes some controls (U+0085, U+001C).
    if has_control(body):
        raise ServiceError(_l("Remove the control characters."), field="body")
    body = body.rstrip()
    if not is_visible(body):
        raise ServiceError(_l("Write a message."), field="body")
    if len(body) > MESSAGE_MAX:
        raise ServiceError(_l("At most %(n)d characters.", n=MESSAGE_MAX), field="body")
    return body


def post_message(room_id: int, user_id: int, body: str, reply_to_id: int | None = None,
                 client_id: str | None = None, load: bool = True) -> Message | None:
    """Store a message and announce it after the commit; return it with its author and
    reply target (``load=False``: return nothing, for a caller that does not need it,
    such as the socket, whose copy comes back through the broker).

    A ``client_id`` the user already used returns that message again: no second row,
    no second event.

    :raise Forbidden: the user may not post. :raise NotFound: unknown room.
    :raise ServiceError: invalid body or reply target, nothing stored.
    :raise RateLimited: too many messages, or the same text again too soon.
    """
    if not may_post(user_id):
        raise Forbidden(_l("Log in to post."))
    if client_id is not None and (not 1 <= len(client_id) <= CLIENT_ID_MAX
                                  or has_control(client_id)):
        raise ServiceError(_l("Invalid message id."), field="client_id")
    if db.session.get(Room, room_id) is None:
        raise NotFound(_l("No such room."))
    body = clean_body(body)
    # Holds the user's row until the commit: one user's posts pass these checks one at
    # a time, so a repeated text or client id sent in parallel is seen.
    db.session.execute(locked(select(User.id).where(User.id == user_id)))
    if client_id is not None:
        existing = _by_client_id(user_id, client_id)
        if existing is not None:
            db.session.commit()
            return existing if load else None
    if reply_to_id is not None:
        target = db.session.get(Message, reply_to_id)
        if target is None or target.room_id != room_id:
            raise ServiceError(_l("You can only reply to a message in this room."),
                               field="reply_to")
        if target.deleted:
            raise ServiceError(_l("This message was deleted."), field="reply_to")
    _refuse_repeat(user_id, body)
    verdict = limiter.consume("chat-post", user_id)
    if not verdict.allowed:
        raise RateLimited(_l("You are sending messages too fast. Wait %(n)d s.",
                             n=verdict.retry_after), verdict.retry_after, field="body")
    message = Message(room_id=room_id, user_id=user_id, body=body, reply_to_id=reply_to_id,
                      client_id=client_id)
    db.session.add(message)
    db.session.flush()
    _store_mentions(message, set())
    events.record(events.message_posted, room_id=room_id, message_id=message.id,
                  user_id=user_id)
    message_id = message.id
    db.session.commit()
    return load_message(message_id) if load else None


def edit_message(message_id: int, user_id: int, body: str) -> Message:
    """Change the text of one's own message within 15 minutes of posting.

    New mentions are stored; earlier ones stay (they may have been notified).

    :raise NotFound: unknown message. :raise Forbidden: not the author.
    :raise ServiceError: deleted, too late, or an invalid body.
    """
    message = load_message(message_id)
    if message.user_id != user_id:
        raise Forbidden(_l("You can only edit your own messages."))
    if message.deleted:
        raise ServiceError(_l("This message was deleted."), field="body")
    if utcnow() - message.created_at > EDIT_WINDOW:
        raise ServiceError(_l("A message can be edited for 15 minutes after posting."),
                           field="body")
    body = clean_body(body)
    if body == message.body:
        return message
    message.body, message.edited_at = body, utcnow()
    known = set(db.session.scalars(select(Mention.user_id)
                                   .where(Mention.message_id == message_id)))
    _store_mentions(message, known)
    events.record(events.message_edited, room_id=message.room_id, message_id=message_id,
                  user_id=user_id)
    db.session.commit()
    return load_message(message_id)


def delete_message(message_id: int, user_id: int) -> Message:
    """Remove a message: its author any time, moderators and admins any message. The row
    stays, blanked, so that the conversation shows where it was; deleting again is a no-op.

    :raise NotFound: unknown message. :raise Forbidden: neither author nor moderator.
    """
    message = load_message(message_id)
    actor = db.session.get(User, user_id)
    if actor is None or (actor.id != message.user_id and not actor.is_moderator):
        raise Forbidden(_l("You cannot delete this message."))
    if message.deleted:
        return message
    message.body, message.deleted_at = "", utcnow()
    events.record(events.message_deleted, room_id=message.room_id, message_id=message_id,
                  user_id=user_id)
    db.session.commit()
    return load_message(message_id)


def load_message(message_id: int) -> Message:
    """One message with its author and reply target.

    :raise NotFound: unknown message.
    """
    message = db.session.scalar(_with_relations(select(Message).where(Message.id == message_id))
                                .execution_options(populate_existing=True))
    if message is None:
        raise NotFound(_l("No such message."))
    return message


def history(room_id: int, before_id: int | None = None, limit: int = 50,
            check_room: bool = True) -> list[Message]:
    """The newest ``limit`` messages of a room, or the ``limit`` before ``before_id``,
    oldest first; ``check_room=False`` when the caller has just read the room.

    :raise NotFound: unknown room.
    """
    if check_room:
        get_room(room_id)
    stmt = select(Message).where(Message.room_id == room_id)
    if before_id is not None:
        stmt = stmt.where(Message.id < before_id)
    stmt = stmt.order_by(Message.id.desc()).limit(max(1, min(limit, HISTORY_MAX)))
    return list(reversed(db.session.scalars(_with_relations(stmt)).unique().all()))


def since(room_id: int, after_id: int, limit: int = 500) -> list[Message]:
    """Messages of a room after ``after_id``, oldest first (catch-up after a reconnect).

    :raise NotFound: unknown room.
    """
    get_room(room_id)
    stmt = (select(Message).where(Message.room_id == room_id, Message.id > after_id)
            .order_by(Message.id).limit(max(1, limit)))
    return list(db.session.scalars(_with_relations(stmt)))


def changed_since(room_id: int, up_to_id: int, after) -> list[Message]:
    """Messages up to ``up_to_id`` edited or deleted after the time ``after``, oldest
    first: what a client that saw the room until then has to replace."""
    stmt = (select(Message).where(Message.room_id == room_id, Message.id <= up_to_id,
                                  (Message.edited_at > after) | (Message.deleted_at > after))
            .order_by(Message.id).limit(HISTORY_MAX))
    return list(db.session.scalars(_with_relations(stmt)))


def latest_id(room_id: int) -> int:
    """The id of the room's newest message, 0 when it has none."""
    return db.session.scalar(select(func.max(Message.id)).where(Message.room_id == room_id)) or 0


def mention_names(messages) -> dict[int, set[str]]:
    """Message id -> the lower-cased usernames it mentions that belong to real users
    (no query when no message has an "@")."""
    ids = [m.id for m in messages if "@" in m.body]
    if not ids:
        return {}
    rows = db.session.execute(select(Mention.message_id, User.username)
                              .join(User, User.id == Mention.user_id)
                              .where(Mention.message_id.in_(ids)))
    names: dict[int, set[str]] = {}
    for message_id, username in rows:
        names.setdefault(message_id, set()).add(username.lower())
    return names


def _with_relations(stmt):
    # Many-to-one all the way: one query with joins.
    return stmt.options(joinedload(Message.user),
                        joinedload(Message.reply_to).joinedload(Message.user))


def _by_client_id(user_id: int, client_id: str) -> Message | None:
    message_id = db.session.scalar(select(Message.id).where(Message.user_id == user_id,
                                                            Message.client_id == client_id))
    return load_message(message_id) if message_id is not None else None


def _refuse_repeat(user_id: int, body: str) -> None:
    """:raise RateLimited: the user sent this text, in any room, within REPEAT_WINDOW."""
    now = utcnow()
    last = db.session.scalar(
        select(Message.created_at)
        .where(Message.user_id == user_id, Message.created_at > now - REPEAT_WINDOW,
               Message.body == body, Message.deleted_at.is_(None))
        .order_by(Message.created_at.desc()).limit(1))
    if last is not None:
        wait = max(1, math.ceil((last + REPEAT_WINDOW - now).total_seconds()))
        raise RateLimited(_l("You sent this a moment ago."), wait, field="body")


def mentioned_names(body: str) -> set[str]:
    """The ``@username``s in a text, lower-cased (whether or not such users exist)."""
    return {name.lower() for name in _MENTION.findall(body)}


def _store_mentions(message: Message, known: set[int]) -> None:
    """Mention rows for the ``@username``s of existing users, the author aside."""
    names = mentioned_names(message.body)
    if not names:
        return
    ids = db.session.scalars(select(User.id).where(func.lower(User.username).in_(names)))
    for mentioned in set(ids) - known - {message.user_id}:
        db.session.add(Mention(message_id=message.id, user_id=mentioned))
    db.session.flush()
