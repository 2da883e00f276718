"""Notification preferences: what each user hears of each kind, on each channel.

A choice is one kind (``PREF_KINDS``: chat, mentions (and replies), reviews) on one
channel (the app's own, ``in_app``, and each of webapp.services.channels), on or off;
``DEFAULT_PREFS`` holds where a user made none, and ``PREF_KIND`` names the choice that
decides each kind of notification. The notify jobs (webapp.services.notifications) and
each channel's delivery read them; /settings/notifications, the bot's /settings and a
mail's unsubscribe link write them.
"""
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from webapp.extensions import db
from webapp.models import PREF_KINDS, NotificationPref, User
from webapp.models.notification import CHANNELS as STORED_CHANNELS
from webapp.services import ServiceError, dialect_insert

# A user's choice where they made none: {kind: {channel: on}}; a channel missing here is
# off until chosen.
DEFAULT_PREFS = {
    "chat": {"in_app": True, "email": False, "telegram": False},
    "mentions": {"in_app": True, "email": True, "telegram": True},
    "reviews": {"in_app": True, "email": True, "telegram": True},
}
# The preference that decides each kind of notification.
PREF_KIND = {"mention": "mentions", "reply": "mentions", "chat": "chat", "review": "reviews"}


def pref_channels() -> tuple[str, ...]:
    """The channels a choice can name: the app's own, then each registered one."""
    # Imported when called: webapp.services.channels imports this module at its top
    # (its deliveries read the choices), so importing it at the top here would be circular.
    from webapp.services.channels import CHANNELS

    return ("in_app", *CHANNELS)


def default_pref(kind: str, channel: str) -> bool:
    return DEFAULT_PREFS[kind].get(channel, False)


def prefs(user_id: int) -> dict[str, dict[str, bool]]:
    """The user's choices, defaults filled in: ``{kind: {channel: on}}``."""
    chosen = {(kind, channel): enabled for kind, channel, enabled in db.session.execute(
        select(NotificationPref.kind, NotificationPref.channel, NotificationPref.enabled)
        .where(NotificationPref.user_id == user_id))}
    return {kind: {ch: chosen.get((kind, ch), default_pref(kind, ch)) for ch in pref_channels()}
            for kind in PREF_KINDS}


def channel_prefs(user_ids, channel: str) -> dict[tuple[int, str], bool]:
    """``{(user id, kind): on}`` for one channel, defaults filled in, in one query."""
    user_ids = sorted(set(user_ids))
    chosen = {(uid, kind): enabled for uid, kind, enabled in db.session.execute(
        select(NotificationPref.user_id, NotificationPref.kind, NotificationPref.enabled)
        .where(NotificationPref.user_id.in_(user_ids), NotificationPref.channel == channel))}
    return {(uid, kind): chosen.get((uid, kind), default_pref(kind, channel))
            for uid in user_ids for kind in PREF_KINDS}


def save_prefs(user_id: int, enabled: set[tuple[str, str]], channels, email_digest: bool) -> None:
    """Store the user's choice on each of ``channels`` for every kind (on: the pairs in
    ``enabled``), and whether email comes as a daily digest.

    :raise ServiceError: a kind or channel that does not exist.
    """
    channels = list(channels)
    if any(ch not in pref_channels() for ch in channels) or any(
            kind not in PREF_KINDS or ch not in channels for kind, ch in enabled):
        raise ServiceError(_l("There is no such notification setting."))
    _store_prefs([{"user_id": user_id, "kind": kind, "channel": ch,
                   "enabled": (kind, ch) in enabled} for kind in PREF_KINDS for ch in channels])
    db.session.execute(update(User).where(User.id == user_id).values(email_digest=email_digest))
    db.session.commit()


def turn_off(user_id: int, kinds, channel: str) -> bool:
    """Turn ``channel`` off for ``kinds``; False when it was off for all of them already."""
    current = prefs(user_id)
    if not any(current[kind].get(channel) for kind in kinds):
        return False
    _store_prefs([{"user_id": user_id, "kind": kind, "channel": channel, "enabled": False}
                  for kind in kinds])
    db.session.commit()
    return True


def set_pref(user_id: int, kind: str, channel: str, enabled: bool) -> None:
    """Turn one kind on or off on one channel.

    Any channel a choice can be stored for (``models.CHANNELS``) is accepted, registered
    in webapp.services.channels or not yet: the bot's /settings keeps the Telegram
    choices before the Telegram channel sends, so they hold once it does.

    :raise ServiceError: a kind or channel that does not exist.
    """
    if kind not in PREF_KINDS or channel not in STORED_CHANNELS:
        raise ServiceError(_l("There is no such notification setting."))
    _store_prefs([{"user_id": user_id, "kind": kind, "channel": channel, "enabled": enabled}])
    db.session.commit()


def _store_prefs(rows: list[dict]) -> None:
    """Insert these choices, or overwrite them where made before (not committed)."""
    if rows:
        stmt = dialect_insert(NotificationPref).values(rows)
        db.session.execute(stmt.on_conflict_do_update(
            index_elements=[NotificationPref.user_id, NotificationPref.kind,
                            NotificationPref.channel],
            set_={"enabled": stmt.excluded.enabled}))

