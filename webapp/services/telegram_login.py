"""Logging in with Telegram: the Login Widget's signed answer, and the bot's one-time
log-in tokens for browsers without JavaScript.

The widget sends the browser back with the Telegram user's fields and ``hash``:
HMAC-SHA256 of the fields (``key=value`` lines, sorted, without ``hash``) keyed with
SHA-256 of the bot token (core.telegram.org/widgets/login). ``verify_widget`` checks it
and that ``auth_date`` is under a day old.

A log-in token (purpose ``login``, made by ``new_login_token``) goes to the bot as
``/start login_<token>``; the linked user confirms there (``confirm_login`` sets the
row's ``telegram_id`` and ``user_id``) or declines (``decline_login``: used, nobody's);
the browser that made it then claims it once (``claim_login``).
"""
import hashlib
import hmac
import time
from dataclasses import asdict, dataclass
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import TelegramLink, TelegramToken, User
from webapp.models.base import utcnow
from webapp.services import ServiceError
from webapp.services.telegram import LinkError, hash_token, new_token, user_of
from webapp.text import clean_name

MAX_AGE = 24 * 3600  # seconds a widget answer stays good (auth_date)
SKEW = 300  # seconds auth_date may be ahead of our clock
_DAY = timedelta(days=1)
START_PREFIX = "login_"  # /start login_<token>: 6 + 32 characters of the 64 allowed
WIDGET_FIELDS = {"id", "first_name", "last_name", "username", "photo_url", "auth_date", "hash"}

WIDGET_REFUSALS = {
    "malformed": _l("This is not a log-in answer from Telegram. Try logging in again."),
    "unsigned": _l("The answer from Telegram is not signed. Try logging in again."),
    "forged": _l("The answer from Telegram did not pass our check, so nobody was logged "
                 "in. Try logging in again."),
    "old": _l("This log-in with Telegram is more than a day old. Log in again."),
    "future": _l("This log-in with Telegram is dated in the future. Check your device's "
                 "clock and log in again."),
}
LOGIN_REFUSALS = {
    "unknown": _l("This log-in link is not known. Start again from the log-in page."),
    "expired": _l("This log-in link has expired (it works for 10 minutes). Start again "
                  "from the log-in page."),
    "used": _l("This log-in link was used already. Start again from the log-in page."),
    "declined": _l("The log-in was declined in Telegram. Start again from the log-in page "
                   "if it was you."),
    "unlinked": _l("This Telegram account is not connected to a Crema account. Log in "
                   "with your password and connect Telegram in Settings → Telegram first."),
}


class WidgetError(ServiceError):
    """A widget answer refused; ``status``: 400 for a malformed one, 403 otherwise."""

    def __init__(self, reason: str) -> None:
        super().__init__(str(WIDGET_REFUSALS[reason]))
        self.reason = reason
        self.status = 400 if reason == "malformed" else 403


class LoginError(ServiceError):
    """A log-in token that cannot be used; ``reason`` is one of LOGIN_REFUSALS."""

    def __init__(self, reason: str) -> None:
        super().__init__(str(LOGIN_REFUSALS[reason]))
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    """A Telegram user as the widget vouched for them."""

    id: int
    first_name: str
    last_name: str
    username: str
    auth_date: int

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data) -> "Identity | None":
        """An identity kept in the session, or None when it is gone or over a day old."""
        try:
            found = cls(int(data["id"]), str(data["first_name"]), str(data["last_name"]),
                        str(data["username"]), int(data["auth_date"]))
        except (KeyError, TypeError, ValueError):
            return None
        return found if 0 <= time.time() - found.auth_date <= MAX_AGE else None


def data_check_string(fields: dict) -> str:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def widget_hash(fields: dict, bot_token: str) -> str:
    """The hash Telegram signs ``fields`` with for the bot of ``bot_token``."""
    secret = hashlib.sha256(bot_token.encode()).digest()
    return hmac.new(secret, data_check_string(fields).encode(), hashlib.sha256).hexdigest()


def verify_widget(fields: dict, bot_token: str, now: float | None = None) -> Identity:
    """The Telegram user the widget's answer ``fields`` vouches for.

    :raise WidgetError: malformed (400), unsigned, forged, too old or dated ahead (403).
    """
    if "hash" not in fields:
        raise WidgetError("unsigned")
    if (set(fields) - WIDGET_FIELDS or any(len(value) > 512 for value in fields.values())
            or not fields.get("id", "").isdigit() or not fields.get("auth_date", "").isdigit()):
        raise WidgetError("malformed")
    if not hmac.compare_digest(widget_hash(fields, bot_token), fields["hash"].lower()):
        raise WidgetError("forged")
    age = (time.time() if now is None else now) - int(fields["auth_date"])
    if age > MAX_AGE:
        raise WidgetError("old")
    if age < -SKEW:
        raise WidgetError("future")
    return Identity(int(fields["id"]), clean_name(fields.get("first_name", "")),
                    clean_name(fields.get("last_name", "")),
                    clean_name(fields.get("username", "")), int(fields["auth_date"]))


def link_identity(user_id: int, identity: Identity) -> None:
    """Link ``user_id`` to the Telegram account of ``identity`` (a private chat with
    the bot has the user's id); an earlier link of the user moves here.

    :raise LinkError: ``taken``, that Telegram account is another account's.
    """
    other = db.session.scalar(select(TelegramLink.user_id).where(
        TelegramLink.telegram_id == identity.id))
    if other is not None and other != user_id:
        raise LinkError("taken")
    db.session.execute(delete(TelegramLink).where(TelegramLink.user_id == user_id))
    db.session.add(TelegramLink(user_id=user_id, telegram_id=identity.id, chat_id=identity.id,
                                first_name=identity.first_name[:64],
                                username=identity.username[:32] or None))
    try:
        db.session.commit()
    except IntegrityError:  # linked elsewhere meanwhile
        db.session.rollback()
        raise LinkError("taken") from None


# One-time log-in tokens -------------------------------------------------------------------

def new_login_token(user_agent: str = "", ip: str = "") -> str:
    """A fresh log-in token for the browser ``user_agent`` at ``ip`` (it keeps the token;
    the bot names it to the user); long-expired ones are swept."""
    db.session.execute(delete(TelegramToken).where(
        TelegramToken.purpose == "login", TelegramToken.expires_at < utcnow() - _DAY))
    return new_token("login", user_agent=user_agent, ip=ip)


def _row(token: str) -> TelegramToken:
    """:raise LoginError: unknown."""
    if not token or len(token) > 64:
        raise LoginError("unknown")
    row = db.session.scalar(select(TelegramToken).where(
        TelegramToken.token_hash == hash_token(token), TelegramToken.purpose == "login"))
    if row is None:
        raise LoginError("unknown")
    return row


def login_state(token: str) -> str:
    """``waiting``, ``confirmed``, or the reason it cannot be used (LOGIN_REFUSALS)."""
    try:
        row = _row(token)
    except LoginError as err:
        return err.reason
    if row.used_at is not None:
        return "used" if row.telegram_id is not None else "declined"
    if row.expires_at <= utcnow():
        return "expired"
    return "confirmed" if row.telegram_id is not None else "waiting"


def _open(token: str) -> TelegramToken:
    """The row of a token nobody has answered yet.

    :raise LoginError: unknown, expired, used or declined.
    """
    state = login_state(token)
    if state != "waiting":
        raise LoginError("used" if state == "confirmed" else state)
    return _row(token)


def asking_client(token: str) -> tuple[str, str]:
    """The user agent and address of the browser that made ``token`` ("" where unknown).

    :raise LoginError: the token cannot be used.
    """
    row = _open(token)
    return row.user_agent or "", row.ip or ""


def asking_user(token: str, telegram_id: int) -> User:
    """Who a log-in token would log in when ``telegram_id`` confirms it (the bot's
    question).

    :raise LoginError: the token cannot be used, or ``telegram_id`` is not linked.
    """
    _open(token)
    user = user_of(telegram_id)
    if user is None:
        raise LoginError("unlinked")
    return user


def confirm_login(token: str, telegram_id: int) -> User:
    """``telegram_id`` says yes: the browser may log in as its linked account.

    :raise LoginError: as ``asking_user``; also when answered meanwhile.
    """
    row, user = _open(token), asking_user(token, telegram_id)
    done = db.session.execute(update(TelegramToken).where(
        TelegramToken.id == row.id, TelegramToken.used_at.is_(None),
        TelegramToken.telegram_id.is_(None), TelegramToken.expires_at > utcnow())
        .values(telegram_id=telegram_id, user_id=user.id)).rowcount
    db.session.commit()
    if done != 1:
        raise LoginError("used")
    return user


def decline_login(token: str) -> None:
    """The Telegram user says no: the token is spent, and logs nobody in.

    :raise LoginError: it could not be used anyway.
    """
    row = _open(token)
    db.session.execute(update(TelegramToken).where(
        TelegramToken.id == row.id, TelegramToken.used_at.is_(None),
        TelegramToken.telegram_id.is_(None)).values(used_at=utcnow()))
    db.session.commit()


def claim_login(token: str) -> User | None:
    """The account a confirmed token logs in (None while nobody has confirmed it); the
    token is spent, once however many requests claim it at the same time.

    :raise LoginError: unknown, expired, used, declined, or the Telegram account was
        unlinked since.
    """
    state = login_state(token)
    if state == "waiting":
        return None
    if state != "confirmed":
        raise LoginError(state)
    row = _row(token)
    claimed = db.session.execute(update(TelegramToken).where(
        TelegramToken.id == row.id, TelegramToken.used_at.is_(None),
        TelegramToken.telegram_id.is_not(None), TelegramToken.expires_at > utcnow())
        .values(used_at=utcnow())).rowcount
    db.session.commit()
    if claimed != 1:
        raise LoginError("used")
    user = user_of(row.telegram_id)
    if user is None or user.id != row.user_id:
        raise LoginError("unlinked")
    return user

