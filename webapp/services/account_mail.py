"""Account mail: password reset and email confirmation links, and the jobs that mail them.

The links are signed (itsdangerous, from ``SECRET_KEY``, a salt of their own each), so
no table keeps them:

- a reset link signs the user id and a fingerprint of the account's email and password
  hash. Once the password changes every link made before it is dead, so a link works
  once; it also expires after ``PASSWORD_RESET_MAX_AGE`` seconds (an hour);
- a confirmation link signs the user id and the address, so it stops working if the
  address changes; it expires after ``EMAIL_CONFIRM_MAX_AGE`` seconds (a week).

The jobs take a nonce made when the mail was asked for: the delivery key holds it, so
a retried job sends no second mail (webapp.mail.send_once), and each new request does.
"""
import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from webapp import mail
from webapp.database import locked
from webapp.extensions import db
from webapp.jobs import job
from webapp.models import User
from webapp.models.base import utcnow
from webapp.services import ServiceError, sessions
from webapp.services.users import MIN_PASSWORD

log = logging.getLogger(__name__)

RESET_SALT = "crema-password-reset"
CONFIRM_SALT = "crema-email-confirm"
NOT_VALID = _l("This link is not valid. Check that you copied all of it from the email.")


class InvalidLink(ServiceError):
    """A mailed link that cannot be used; ``reason`` is expired, used, changed or invalid."""

    def __init__(self, message, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def new_nonce() -> str:
    """What makes one request's mail its own (its delivery key), made at request time."""
    return secrets.token_hex(8)


def normalise_address(address: str) -> str:
    """An address as accounts store it (webapp.services.users.register_user)."""
    return address.strip().lower()


# Links -------------------------------------------------------------------------------

def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _fingerprint(user: User) -> str:
    # Keyed, so that the link (signed, not secret) tells nothing about the hash.
    key = str(current_app.config["SECRET_KEY"]).encode()
    state = f"{user.email}\0{user.password_hash}".encode()
    return hmac.new(key, state, hashlib.sha256).hexdigest()[:32]


def _load(token: str, salt: str, max_age: int, expired_message) -> list:
    """:raise InvalidLink: expired, or not a link Crema signed with ``salt``."""
    try:
        data = _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        raise InvalidLink(expired_message, "expired") from None
    except BadData:
        data = None
    if not (isinstance(data, list) and len(data) == 2 and isinstance(data[0], int)
            and isinstance(data[1], str)):
        raise InvalidLink(NOT_VALID, "invalid")
    return data


def reset_token(user: User) -> str:
    return _serializer(RESET_SALT).dumps([user.id, _fingerprint(user)])


def user_for_reset(token: str, lock: bool = False) -> User:
    """The account a reset link is for (its row locked for the change with ``lock``).

    :raise InvalidLink: expired, used (the password changed since), or forged.
    """
    user_id, fingerprint = _load(
        token, RESET_SALT, current_app.config["PASSWORD_RESET_MAX_AGE"],
        _l("This password reset link has expired. Ask for a new one."))
    stmt = select(User).where(User.id == user_id).execution_options(populate_existing=True)
    user = db.session.scalar(locked(stmt) if lock else stmt)
    if user is None:
        raise InvalidLink(NOT_VALID, "invalid")
    if not hmac.compare_digest(fingerprint, _fingerprint(user)):
        raise InvalidLink(_l("This password reset link has already been used, or the "
                             "account's password or email changed since it was sent."),
                          "used")
    return user


def reset_password(token: str, password: str) -> User:
    """Set a new password through a reset link, end every session of the account, and
    confirm its address (the link proved it is theirs); one commit.

    :raise InvalidLink: as user_for_reset; :raise ServiceError: the password is too
        short. Nothing changes then.
    """
    try:
        user = user_for_reset(token, lock=True)  # two tabs sending one link: one wins
        if len(password) < MIN_PASSWORD:
            raise ServiceError(_l("At least %(n)d characters.", n=MIN_PASSWORD),
                               field="password")
    except ServiceError:
        db.session.rollback()  # the lock goes with it
        raise
    user.set_password(password, current_app.config["PASSWORD_HASH_METHOD"])
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()
    sessions.delete_other_sessions(user.id, None)
    db.session.commit()
    return user


def confirm_token(user: User) -> str:
    return _serializer(CONFIRM_SALT).dumps([user.id, user.email])


def confirm_email(token: str) -> tuple[User, bool]:
    """Mark the address of a confirmation link confirmed; the user, and whether it was
    confirmed before (then nothing changes).

    :raise InvalidLink: expired, forged, or the account's address changed since.
    """
    user_id, address = _load(
        token, CONFIRM_SALT, current_app.config["EMAIL_CONFIRM_MAX_AGE"],
        _l("This confirmation link has expired. Ask for a new one from your settings."))
    user = db.session.get(User, user_id)
    if user is None:
        raise InvalidLink(NOT_VALID, "invalid")
    if user.email != address:
        raise InvalidLink(_l("This link was sent to an address your account no longer "
                             "uses. Ask for a new one from your settings."), "changed")
    if user.email_confirmed_at is not None:
        return user, True
    user.email_confirmed_at = utcnow()
    db.session.commit()
    return user, False


# Jobs ----------------------------------------------------------------------------------

@job
def send_password_reset(address: str, nonce: str, locale: str | None = None) -> None:
    """Mail a reset link to the account using ``address``, if one does (the page that
    asked says the same either way; the lookup is here, off the request's clock)."""
    user = db.session.scalar(select(User).where(User.email == normalise_address(address)))
    if user is None:
        log.info("password reset: no account uses the address asked about; nothing sent")
        return
    _send(user, "password_reset", f"password-reset:{user.id}:{nonce}", locale,
          token=reset_token(user),
          valid_for=timedelta(seconds=current_app.config["PASSWORD_RESET_MAX_AGE"]))


@job
def send_confirmation(user_id: int, nonce: str, locale: str | None = None) -> None:
    """Mail a link that confirms the user's address, unless it is confirmed already."""
    user = db.session.get(User, user_id)
    if user is None or user.email_confirmed_at is not None:
        log.info("confirmation: user %s is gone or confirmed; nothing sent", user_id)
        return
    _send(user, "confirm_email", f"confirm-email:{user.id}:{nonce}", locale,
          token=confirm_token(user),
          valid_for=timedelta(seconds=current_app.config["EMAIL_CONFIRM_MAX_AGE"]))


def _send(user: User, template: str, key: str, locale: str | None, **context) -> None:
    """In the user's language, else the one the request was made in, else the default."""
    languages = current_app.config["LANGUAGES"]
    language = next((x for x in (user.locale, locale) if x in languages), None)
    rendered = mail.render(template, language, user=user, **context)
    msg = mail.message(user.email, rendered, key, {"Auto-Submitted": "auto-generated"})
    mail.send_once(key, user.id, msg)
