"""Telegram: a user's linked Telegram account, and the one-time tokens that link it."""
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import UTCDateTime, utcnow


class TelegramLink(db.Model):
    """A Crema account linked to a Telegram account (one each way). ``chat_id`` is the
    private chat the bot writes to; ``active`` turns False when Telegram answers that
    the user blocked the bot (403), and True again when they write to it."""

    __tablename__ = "telegram_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         unique=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    first_name: Mapped[str] = mapped_column(String(64), default="")
    username: Mapped[str | None] = mapped_column(String(32))
    language_code: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user = relationship("User", lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"<TelegramLink user {self.user_id} telegram {self.telegram_id}>"


class TelegramToken(db.Model):
    """A one-time token for the bot's ``/start`` deep link: only its SHA-256 is kept;
    it is good for ``TELEGRAM_TOKEN_TTL`` seconds (10 minutes) and once (``used_at``).
    ``purpose``: ``link`` (a logged-in user connects Telegram) or ``login`` (log in on the
    site through the bot; ``telegram_id`` is who confirmed it)."""

    __tablename__ = "telegram_tokens"
    __table_args__ = (CheckConstraint("purpose IN ('link', 'login')", name="purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(8))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                                index=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # For ``login``: the browser that asked, named in the bot's question to the user.
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ip: Mapped[str | None] = mapped_column(String(45))


class TelegramMessage(db.Model):
    """A message the bot sent to a linked user about a notification: which room and chat
    message it was about, so that the user's reply in Telegram is posted there, as a
    reply to that message. Telegram names a message by ``(chat_id, message_id)``."""

    __tablename__ = "telegram_messages"
    __table_args__ = (UniqueConstraint("chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    chat_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
