"""Following and muting: what a user hears of a room or a coffee besides what is
addressed to them.

Following a room brings its chat activity; following a coffee, its new reviews (who is
told what: webapp.services.notifications). A mute of a room, or of a coffee (its reviews
and its room), silences all but mentions and replies; the user's follows stay, so
unmuting brings it all back. Following or muting again changes nothing.
"""
from dataclasses import dataclass

from sqlalchemy import func, or_, select, union_all

from webapp.extensions import db
from webapp.models import Coffee, Follow, Mute, Room
from webapp.models.base import utcnow
from webapp.services import constant_column, dialect_insert
from webapp.services.chat import room_title


def _target(model, room_id: int | None, coffee_id: int | None):
    return model.room_id == room_id if room_id is not None else model.coffee_id == coffee_id


def _keep(model, user_id: int, room_id: int | None, coffee_id: int | None) -> None:
    """Add the user's follow or mute of a room or a coffee (again: nothing changes)."""
    target = [model.user_id, model.room_id if room_id is not None else model.coffee_id]
    db.session.execute(dialect_insert(model).values(
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
        return select(constant_column(what, "what"), model.room_id, model.coffee_id).where(
            model.user_id == user_id, or_(*targets))

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
