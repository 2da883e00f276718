"""Server-side sessions: one row per signed-in browser or device."""
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import UTCDateTime, utcnow

USER_AGENT_MAX = 255


class UserSession(db.Model):
    """A log-in. The browser holds a random token; only its SHA-256 is stored, so a
    copy of this table does not let anyone sign in. Deleting the row ends the session."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(USER_AGENT_MAX), default="")
    ip: Mapped[str] = mapped_column(String(45), default="")

    user = relationship("User", lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"<UserSession {self.id} of {self.user_id}>"
