"""Accounts and roles."""
import secrets
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text, UniqueConstraint, false, func
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db
from webapp.models.base import UTCDateTime, utcnow

ROLES = ("user", "moderator", "admin")


def new_session_token() -> str:
    return secrets.token_hex(8)


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('user', 'moderator', 'admin')", name="role"),
        CheckConstraint("length(bio) <= 500", name="bio_length"),
        UniqueConstraint("email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(64), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    locale: Mapped[str | None] = mapped_column(String(8))
    role: Mapped[str] = mapped_column(String(16), default="user")
    # No longer read: sessions live in user_sessions (a password change deletes the
    # others there). Dropping the column is left to a later migration of users.
    session_token: Mapped[str] = mapped_column(String(32), default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Set when the owner opened the link mailed to ``email``; until then no
    # notification is mailed there (account mail, such as a password reset, still is).
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Notification mail: each as it happens (False) or one digest a day (True).
    email_digest: Mapped[bool] = mapped_column(default=False, server_default=false())

    def __repr__(self) -> str:
        return f"<User {self.username}>"

    # This browser's session (webapp.services.sessions), set at log-in and when the
    # session loads the user; plain attributes, not columns.
    login_token = None
    login_session_id = None

    def get_id(self) -> str:
        """The login id Flask-Login keeps in the cookies: the session's token.

        :raise RuntimeError: when the user was not logged in through a session.
        """
        if not self.login_token:
            raise RuntimeError("log in with webapp.security.log_in, which starts a session")
        return self.login_token

    # What Flask-Login asks of a user (its UserMixin would import the request layer
    # into the models, which the bot and workers share).
    is_active = True
    is_authenticated = True
    is_anonymous = False

    @property
    def name(self) -> str:
        return self.display_name or self.username

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_moderator(self) -> bool:
        """Moderators and admins both moderate."""
        return self.role in ("moderator", "admin")

    def set_password(self, password: str, method: str = "scrypt") -> None:
        self.password_hash = generate_password_hash(password, method=method)
        self.session_token = new_session_token()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


# Usernames are unique whatever their case; the index also serves lookups.
Index("uq_users_username_lower", func.lower(User.username), unique=True)
