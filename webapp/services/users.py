"""Accounts: registration, authentication, profile and role changes."""
import re

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from webapp.database import locked
from webapp.extensions import db
from webapp.models import ROLES, User
from webapp.services import Forbidden, NotFound, ServiceError, contains_pattern, sessions
from webapp.text import clean_name, has_control, is_visible, normalise

USERNAME_RE = re.compile(r"^[A-Za-z0-9_-]{3,32}$")
MIN_PASSWORD = 10


def find_by_username(username: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def find_by_login(identifier: str) -> User | None:
    """A user by username or email, case-insensitively."""
    ident = identifier.strip().lower()
    return db.session.scalar(
        select(User).where(or_(func.lower(User.username) == ident, User.email == ident))
    )


def username_taken(username: str) -> bool:
    return find_by_username(username) is not None


def email_taken(email: str) -> bool:
    return db.session.scalar(select(User.id).where(User.email == email.strip().lower())) is not None


def validate_username(username: str) -> None:
    """``username`` as given, cleaned (see webapp.text) before it is compared.

    :raise ServiceError: when the username is malformed or taken.
    """
    username = clean_name(username)
    if not USERNAME_RE.fullmatch(username):
        raise ServiceError(
            _l("3 to 32 characters: letters, digits, _ and - only."), field="username"
        )
    if username_taken(username):
        raise ServiceError(_l("This username is already taken."), field="username")


def register_user(username: str, email: str, password: str, role: str = "user") -> User:
    """Create an account.

    :raise ServiceError: on a malformed or taken username, a taken email or a
        short password; nothing is saved then.
    """
    username = clean_name(username)
    email = email.strip().lower()
    validate_username(username)
    if email_taken(email):
        raise ServiceError(_l("An account with this email already exists."), field="email")
    if len(password) < MIN_PASSWORD:
        raise ServiceError(_l("At least %(n)d characters.", n=MIN_PASSWORD), field="password")
    if role not in ROLES:
        raise ServiceError(_l("Unknown role."), field="role")
    user = User(username=username, email=email, role=role, display_name="", bio="")
    user.set_password(password, current_app.config["PASSWORD_HASH_METHOD"])
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent sign-up took the name or email first
        db.session.rollback()
        raise ServiceError(_l("This username or email was just taken."), field="username")
    return user


def authenticate(identifier: str, password: str) -> User | None:
    """The user whose username or email and password match, else None."""
    user = find_by_login(identifier)
    if user is None:
        # Spend the same time as a real check so timing does not reveal accounts.
        User(password_hash=_dummy_hash()).check_password(password)
        return None
    return user if user.check_password(password) else None


_DUMMY: dict[str, str] = {}


def _dummy_hash() -> str:
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _DUMMY:
        from werkzeug.security import generate_password_hash

        _DUMMY[method] = generate_password_hash("not-a-real-password", method=method)
    return _DUMMY[method]


def change_password(user_id: int, current: str, new: str,
                    keep_session_id: int | None = None) -> User:
    """Change the password and sign out every session but ``keep_session_id``.

    :raise ServiceError: when ``current`` is wrong or ``new`` too short.
    """
    user = get_user(user_id)
    if not user.check_password(current):
        raise ServiceError(_l("Your current password is not correct."), field="current_password")
    if len(new) < MIN_PASSWORD:
        raise ServiceError(_l("At least %(n)d characters.", n=MIN_PASSWORD), field="new_password")
    user.set_password(new, current_app.config["PASSWORD_HASH_METHOD"])
    sessions.delete_other_sessions(user.id, keep_session_id)
    db.session.commit()
    return user


def update_profile(user_id: int, display_name: str, bio: str, locale: str | None) -> User:
    """:raise ServiceError: on control characters, a display name with nothing
        visible, over-long values or an unknown language."""
    user = get_user(user_id)
    for field, value in (("display_name", display_name), ("bio", bio)):
        if has_control(value):
            raise ServiceError(_l("Remove the control characters."), field=field)
    display_name, bio = clean_name(display_name), normalise(bio.strip().replace("\r\n", "\n"))
    if display_name and not is_visible(display_name):
        raise ServiceError(_l("Use at least one visible character."), field="display_name")
    if len(display_name) > 64:
        raise ServiceError(_l("At most %(n)d characters.", n=64), field="display_name")
    if len(bio) > 500:
        raise ServiceError(_l("At most %(n)d characters.", n=500), field="bio")
    if locale and locale not in current_app.config["LANGUAGES"]:
        raise ServiceError(_l("Unknown language."), field="locale")
    user.display_name, user.bio, user.locale = display_name, bio, locale or None
    db.session.commit()
    return user


def set_locale(user_id: int, locale: str) -> None:
    user = get_user(user_id)
    user.locale = locale
    db.session.commit()


def set_role(user_id: int, role: str, acting_user_id: int) -> User:
    """Give a user a role; only an admin may, and the last admin stays one.

    The admins are locked while counted, so two admins demoting each other at the
    same moment cannot both succeed.

    :raise ServiceError: on an unknown role, an admin demoting themselves, or
        demoting the last admin. :raise Forbidden: the acting user is no longer an
        admin. :raise NotFound: unknown user.
    """
    if role not in ROLES:
        raise ServiceError(_l("Unknown role."), field="role")
    if user_id == acting_user_id and role != "admin":
        raise ServiceError(_l("You cannot remove your own admin role."), field="role")
    admins = set(db.session.scalars(locked(select(User.id).where(User.role == "admin"))))
    if acting_user_id not in admins:
        raise Forbidden(_l("Only admins can change roles."))
    user = db.session.scalar(select(User).where(User.id == user_id)
                             .execution_options(populate_existing=True))
    if user is None:
        raise NotFound(_l("No such user."))
    if user.id in admins and role != "admin" and len(admins) <= 1:
        raise ServiceError(_l("Crema needs at least one admin."), field="role")
    user.role = role
    db.session.commit()
    return user


def get_user(user_id: int) -> User:
    """:raise NotFound: when there is no such user."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_l("No such user."))
    return user


def search_users(query: str, page: int, per_page: int):
    """Users whose username, display name or email contains ``query``, newest first."""
    stmt = select(User).order_by(User.created_at.desc(), User.id.desc())
    if query:
        like = contains_pattern(query)
        stmt = stmt.where(
            or_(
                func.lower(User.username).like(like, escape="\\"),
                func.lower(User.display_name).like(like, escape="\\"),
                User.email.like(like, escape="\\"),
            )
        )
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)
