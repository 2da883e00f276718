"""Telegram accounts: linking a Crema account to Telegram through the bot, and back.

The site makes a one-time token (``new_token``): at least 128 bits, URL-safe, short
enough for Telegram's 64-character ``/start`` payload, kept only as its SHA-256, good
for ``TELEGRAM_TOKEN_TTL`` seconds (10 minutes) and once. The deep link
``https://t.me/<bot>?start=<token>`` opens the bot, which calls ``link`` with who wrote
to it. Refusals are ``LinkError`` with a ``reason`` the bot words in the user's language:
``unknown`` (never made, or mistyped), ``expired``, ``used``, ``taken`` (that Telegram
account is linked to another Crema account) and change nothing.

Without ``TELEGRAM_BOT_TOKEN`` (``configured()`` is False) the site hides Telegram.
"""
import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import TelegramLink, TelegramToken, User
from webapp.models.base import utcnow
from webapp.services import ServiceError

TOKEN_BYTES = 24  # 192 bits; 32 characters of URL-safe base64

LINK_REFUSALS = {
    "unknown": _l("This link is not known. Open Settings → Telegram on the site and "
                  "connect again."),
    "expired": _l("This link has expired (it works for 10 minutes). Open Settings → "
                  "Telegram on the site and connect again."),
    "used": _l("This link was used already. Open Settings → Telegram on the site and "
               "connect again."),
    "taken": _l("This Telegram account is already connected to another Crema account. "
                "Disconnect it there first (/unlink)."),
}


class LinkError(ServiceError):
    """A link token that cannot be used; ``reason`` is one of LINK_REFUSALS."""

    def __init__(self, reason: str) -> None:
        super().__init__(str(LINK_REFUSALS[reason]))
        self.reason = reason


def configured() -> bool:
    """Whether the site has a bot (``TELEGRAM_BOT_TOKEN`` and ``TELEGRAM_BOT_USERNAME``)."""
    config = current_app.config
    return bool(config.get("TELEGRAM_BOT_TOKEN") and config.get("TELEGRAM_BOT_USERNAME"))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(purpose: str, user_id: int | None = None, user_agent: str | None = None,
              ip: str | None = None) -> str:
    """A fresh one-time token for ``purpose`` (``link``: for ``user_id``; ``login``: asked
    by the browser ``user_agent`` from ``ip``); returned once, stored hashed. Earlier
    unused tokens of the same user and purpose stop working."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    if user_id is not None:
        db.session.execute(delete(TelegramToken).where(
            TelegramToken.user_id == user_id, TelegramToken.purpose == purpose,
            TelegramToken.used_at.is_(None)))
    db.session.add(TelegramToken(
        token_hash=hash_token(token), purpose=purpose, user_id=user_id, created_at=now,
        user_agent=(user_agent or "")[:300] or None, ip=(ip or "")[:45] or None,
        expires_at=now + timedelta(seconds=current_app.config["TELEGRAM_TOKEN_TTL"])))
    db.session.commit()
    return token


def deep_link(token: str) -> str:
    return f"https://t.me/{current_app.config['TELEGRAM_BOT_USERNAME']}?start={token}"


def _claim(token: str, purpose: str) -> TelegramToken:
    """The token's row, marked used in this transaction (once, however many ask at once).

    :raise LinkError: unknown, expired or used.
    """
    if not token or len(token) > 64:
        raise LinkError("unknown")
    row = db.session.scalar(select(TelegramToken).where(
        TelegramToken.token_hash == hash_token(token), TelegramToken.purpose == purpose))
    if row is None:
        raise LinkError("unknown")
    if row.used_at is not None:
        raise LinkError("used")
    now = utcnow()
    if row.expires_at <= now:
        raise LinkError("expired")
    claimed = db.session.execute(
        update(TelegramToken).where(TelegramToken.id == row.id, TelegramToken.used_at.is_(None))
        .values(used_at=now)).rowcount
    if claimed != 1:  # another request took it between the read and the write
        db.session.rollback()
        raise LinkError("used")
    return row


def link(token: str, telegram_id: int, chat_id: int, first_name: str = "",
         username: str | None = None, language_code: str | None = None) -> User:
    """Link the account that made ``token`` to this Telegram account; the user.

    A user who links a second Telegram account moves the link there.

    :raise LinkError: the token is unknown, expired or used, or this Telegram account
        is linked to another Crema account; nothing changes then.
    """
    row = _claim(token, "link")
    user_id = row.user_id
    other = db.session.scalar(select(TelegramLink.user_id).where(
        TelegramLink.telegram_id == telegram_id))
    if other is not None and other != user_id:
        db.session.rollback()
        raise LinkError("taken")
    db.session.execute(delete(TelegramLink).where(TelegramLink.user_id == user_id))
    db.session.add(TelegramLink(user_id=user_id, telegram_id=telegram_id, chat_id=chat_id,
                                first_name=(first_name or "")[:64],
                                username=(username or None) and username[:32],
                                language_code=(language_code or None) and language_code[:16]))
    try:
        db.session.commit()
    except IntegrityError:
        # Another account linked this Telegram account after the check above, and
        # committed first: the unique telegram_id refuses this one.
        db.session.rollback()
        raise LinkError("taken") from None
    return db.session.get(User, user_id)


def pending_link(user_id: int) -> datetime | None:
    """When the user's unused link token expires, or None when there is none left."""
    return db.session.scalar(select(TelegramToken.expires_at).where(
        TelegramToken.user_id == user_id, TelegramToken.purpose == "link",
        TelegramToken.used_at.is_(None), TelegramToken.expires_at > utcnow()))


def link_of(user_id: int) -> TelegramLink | None:
    return db.session.scalar(select(TelegramLink).where(TelegramLink.user_id == user_id))


def user_of(telegram_id: int) -> User | None:
    """The Crema account linked to this Telegram account, if any."""
    return db.session.scalar(select(User).join(TelegramLink, TelegramLink.user_id == User.id)
                             .where(TelegramLink.telegram_id == telegram_id))


def unlink(user_id: int) -> bool:
    """Disconnect the user's Telegram account; False when none was linked."""
    gone = db.session.execute(delete(TelegramLink).where(TelegramLink.user_id == user_id)).rowcount
    db.session.commit()
    return bool(gone)


def unlink_telegram(telegram_id: int) -> User | None:
    """Disconnect this Telegram account (the bot's /unlink); the Crema user it was
    linked to, or None."""
    user = user_of(telegram_id)
    if user is not None:
        db.session.execute(delete(TelegramLink).where(TelegramLink.telegram_id == telegram_id))
        db.session.commit()
    return user
