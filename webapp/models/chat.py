"""Discussion rooms (one per coffee, a few topic rooms), their messages and who read what."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import UTCDateTime, utcnow

MESSAGE_MAX = 2000
ROOM_KINDS = ("coffee", "topic")


class Room(db.Model):
    __tablename__ = "rooms"
    __table_args__ = (
        CheckConstraint("kind IN ('coffee', 'topic')", name="kind"),
        # A coffee room belongs to its coffee; a topic room has a slug and a title instead.
        CheckConstraint("(kind = 'coffee' AND coffee_id IS NOT NULL AND slug IS NULL) OR "
                        "(kind = 'topic' AND coffee_id IS NULL AND slug IS NOT NULL "
                        "AND title IS NOT NULL)", name="kind_fields"),
        UniqueConstraint("coffee_id"),
        UniqueConstraint("slug"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    coffee_id: Mapped[int | None] = mapped_column(ForeignKey("coffees.id", ondelete="CASCADE"))
    slug: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    coffee = relationship("Coffee", lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"<Room {self.id} {self.slug or self.coffee_id}>"


class Message(db.Model):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(f"length(body) <= {MESSAGE_MAX}", name="body_length"),
        # A message re-sent by a reconnecting client carries the same client id: stored once.
        UniqueConstraint("user_id", "client_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Blank once deleted: the row stays so that the conversation shows where it was.
    body: Mapped[str] = mapped_column(Text)
    reply_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"))
    client_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User", lazy="raise_on_sql")
    reply_to = relationship("Message", remote_side=[id], lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"<Message {self.id} in {self.room_id}>"

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


class Mention(db.Model):
    """An ``@username`` in a message (for the notifications to come)."""

    __tablename__ = "mentions"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"),
                                            primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)


class RoomRead(db.Model):
    """How far a user has read a room: messages after this id are unread."""

    __tablename__ = "room_reads"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"),
                                         primary_key=True)
    # Not a foreign key: only an id to count after, and messages are never removed alone.
    last_read_message_id: Mapped[int] = mapped_column(default=0)


# The last 50 of a room, the 50 before an id, everything after an id.
Index("ix_messages_room_id_id", Message.room_id, Message.id)
# The same text twice from one user within 30 seconds; also serves deleting a user.
Index("ix_messages_user_id_created_at", Message.user_id, Message.created_at)
Index("ix_messages_reply_to_id", Message.reply_to_id)
Index("ix_mentions_user_id", Mention.user_id)
Index("ix_room_reads_room_id", RoomRead.room_id)
