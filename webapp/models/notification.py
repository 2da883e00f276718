"""What a user is told about (notifications) and what they follow."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import UTCDateTime, utcnow

NOTIFICATION_KINDS = ("mention", "reply", "chat", "review")
# What a user chooses to hear of (mentions and replies are one choice) and where.
PREF_KINDS = ("chat", "mentions", "reviews")
CHANNELS = ("in_app", "email", "telegram")


class Notification(db.Model):
    """One thing to tell one user. ``key`` makes it once per user: a job that runs twice
    finds its row; chat activity in a room shares one key per 5 minutes and is counted
    in place (``count``, up to ``last_message_id``)."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("kind IN ('mention', 'reply', 'chat', 'review')", name="kind"),
        CheckConstraint("count >= 1", name="count"),
        UniqueConstraint("user_id", "key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    key: Mapped[str] = mapped_column(String(64))
    # Who did it (the last one, for chat activity); gone with their account.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    coffee_id: Mapped[int | None] = mapped_column(ForeignKey("coffees.id", ondelete="CASCADE"))
    review_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    count: Mapped[int] = mapped_column(default=1)
    last_message_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Shown in the bell and the list; False when the user turned the in-app channel off
    # for this kind and the row exists for another channel (e-mail, its digest).
    in_app: Mapped[bool] = mapped_column(default=True, server_default=true())

    actor = relationship("User", foreign_keys=[actor_id], lazy="raise_on_sql")
    room = relationship("Room", lazy="raise_on_sql")
    message = relationship("Message", lazy="raise_on_sql")
    coffee = relationship("Coffee", lazy="raise_on_sql")
    review = relationship("Review", lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"<Notification {self.kind} {self.key} for {self.user_id}>"


class _Target:
    """A user's choice about one room or one coffee (exactly one of them), once each."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple:
        return (
            CheckConstraint("(room_id IS NULL) <> (coffee_id IS NULL)", name="one_target"),
            UniqueConstraint("user_id", "room_id"),
            UniqueConstraint("user_id", "coffee_id"),
        )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    coffee_id: Mapped[int | None] = mapped_column(ForeignKey("coffees.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Follow(_Target, db.Model):
    """A user follows a room's conversation or a coffee's new reviews."""

    __tablename__ = "follows"


class NotificationPref(db.Model):
    """A user's choice for one kind on one channel; a missing row means the default
    (webapp.services.notification_prefs.DEFAULT_PREFS)."""

    __tablename__ = "notification_prefs"
    __table_args__ = (
        CheckConstraint("kind IN ('chat', 'mentions', 'reviews')", name="kind"),
        CheckConstraint("channel IN ('in_app', 'email', 'telegram')", name="channel"),
        UniqueConstraint("user_id", "kind", "channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(8))
    enabled: Mapped[bool] = mapped_column()


class Mute(_Target, db.Model):
    """A user hears nothing more of a room's conversation, or of a coffee (its reviews
    and its room), but mentions and replies."""

    __tablename__ = "mutes"


class Delivery(db.Model):
    """Something sent outside the app (an e-mail, a Telegram message), once: a job
    claims ``(channel, key)`` in the transaction that sends it, so a retried job finds
    the claim and sends nothing more."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("channel", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                                index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# A user's list, newest first; the unread count; who follows a room or a coffee.
Index("ix_notifications_user_id_updated_at", Notification.user_id, Notification.updated_at)
Index("ix_notifications_user_id_read_at", Notification.user_id, Notification.read_at)
Index("ix_follows_room_id", Follow.room_id)
Index("ix_follows_coffee_id", Follow.coffee_id)
Index("ix_mutes_room_id", Mute.room_id)
Index("ix_mutes_coffee_id", Mute.coffee_id)
