"""Broadcasts: an admin's message to linked Telegram users, and each recipient's fate."""
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, \
    UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import UTCDateTime, utcnow

AUDIENCES = ("all", "coffee")
RECIPIENT_STATES = ("pending", "sending", "sent", "failed", "blocked")


class Broadcast(db.Model):
    """One message to an audience: every linked user, or the followers of a coffee.
    ``total`` is the number of recipients written when it was sent; ``status`` is
    ``sending`` until no recipient is pending, then ``done``."""

    __tablename__ = "broadcasts"
    __table_args__ = (
        CheckConstraint("audience IN ('all', 'coffee')", name="audience"),
        CheckConstraint("status IN ('sending', 'done')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(String(8))
    coffee_id: Mapped[int | None] = mapped_column(ForeignKey("coffees.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(8), default="sending")
    total: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    author = relationship("User", lazy="raise_on_sql")
    coffee = relationship("Coffee", lazy="raise_on_sql")


class BroadcastRecipient(db.Model):
    """One linked user a broadcast goes to. ``pending`` → ``sending`` (claimed, committed
    before the Bot API call) → ``sent``, ``failed`` or ``blocked`` (403: the user blocked
    the bot). A resumed job never sends to a row past ``pending``."""

    __tablename__ = "broadcast_recipients"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'blocked')",
                        name="status"),
        UniqueConstraint("broadcast_id", "user_id"),
        Index("ix_broadcast_recipients_broadcast_id_status", "broadcast_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    error: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
