"""Helpers available in every template."""
from flask_babel import lazy_gettext as _l

from webapp import avatar

ROLE_LABELS = {"user": _l("user"), "moderator": _l("moderator"), "admin": _l("admin")}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def init_app(app) -> None:
    app.jinja_env.globals.update(
        avatar_hue=avatar.hue,
        avatar_initials=avatar.initials,
        role_label=role_label,
    )
