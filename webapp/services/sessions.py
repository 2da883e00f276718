"""Server-side sessions: start, find, list and end the log-ins of an account.

The browser keeps a random token (in the signed session cookie and, with
"remember me", the remember cookie); the database keeps only its SHA-256. Ending
a session deletes its row, so every copy of its cookies stops working at once.
"""
import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.orm import joinedload

from webapp.extensions import db
from webapp.models import UserSession
from webapp.models.base import utcnow
from webapp.models.session import USER_AGENT_MAX
from webapp.services import NotFound

# last_seen_at is written at most this often per session: a write per request would
# cost more than the page, and the list only needs "about when".
TOUCH_EVERY = timedelta(minutes=5)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def idle_limit() -> timedelta:
    """A session unused for this long is over (as long as a remember cookie lasts)."""
    return timedelta(seconds=current_app.config["REMEMBER_COOKIE_DURATION"])


def start_session(user_id: int, user_agent: str, ip: str) -> tuple[UserSession, str]:
    """Record a new log-in; return the row and the token the browser keeps."""
    now = utcnow()
    # Sessions nobody has used for a long time go when their account logs in again.
    db.session.execute(delete(UserSession).where(
        UserSession.user_id == user_id, UserSession.last_seen_at < now - idle_limit()))
    token = secrets.token_urlsafe(32)
    row = UserSession(token_hash=hash_token(token), user_id=user_id, created_at=now,
                      last_seen_at=now, user_agent=_printable(user_agent)[:USER_AGENT_MAX],
                      ip=_printable(ip)[:45])
    db.session.add(row)
    db.session.commit()
    return row, token


def _printable(text: str | None) -> str:
    # Headers are outside our control; PostgreSQL refuses NUL in text.
    return "".join(c for c in text or "" if c.isprintable())


def find_session(token: str) -> UserSession | None:
    """The live session holding ``token``, with its user loaded, else None."""
    if not token:
        return None
    row = db.session.scalar(select(UserSession).options(joinedload(UserSession.user))
                            .where(UserSession.token_hash == hash_token(token)))
    if row is None or row.last_seen_at < utcnow() - idle_limit():
        return None
    return row


def needs_touch(row: UserSession, now: datetime | None = None) -> bool:
    return row.last_seen_at <= (now or utcnow()) - TOUCH_EVERY


def touch(session_id: int) -> None:
    """Record that the session is in use now, and commit.

    Conditional, so that parallel requests of one browser write once.
    """
    now = utcnow()
    db.session.execute(update(UserSession)
                       .where(UserSession.id == session_id,
                              UserSession.last_seen_at <= now - TOUCH_EVERY)
                       .values(last_seen_at=now))
    db.session.commit()


def list_sessions(user_id: int) -> list[UserSession]:
    """The account's live sessions, the most recently used first."""
    return list(db.session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user_id, UserSession.last_seen_at >= utcnow() - idle_limit())
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())))


def end_session(user_id: int, session_id: int) -> None:
    """Sign out one session of the account.

    :raise NotFound: when the account has no such session (another account's
        sessions are not even acknowledged).
    """
    result = db.session.execute(delete(UserSession).where(
        UserSession.id == session_id, UserSession.user_id == user_id))
    db.session.commit()
    if result.rowcount == 0:
        raise NotFound(_l("This session has already ended."))


def end_other_sessions(user_id: int, keep_session_id: int | None) -> int:
    """Sign out every session of the account but ``keep_session_id``; return how many."""
    count = delete_other_sessions(user_id, keep_session_id)
    db.session.commit()
    return count


def delete_other_sessions(user_id: int, keep_session_id: int | None) -> int:
    """As end_other_sessions, in the caller's transaction (a password change
    commits it with the new password)."""
    stmt = delete(UserSession).where(UserSession.user_id == user_id)
    if keep_session_id is not None:
        stmt = stmt.where(UserSession.id != keep_session_id)
    return db.session.execute(stmt).rowcount
