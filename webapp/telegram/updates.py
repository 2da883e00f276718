"""The webhook's bot (one per app) and its memory of the updates it handled."""
import threading
from collections import OrderedDict

from webapp.redis_client import get_redis

SEEN_TTL = 24 * 3600  # Telegram gives up re-sending an update well within a day
SEEN_MAX = 10_000  # ids kept per process without Redis

_lock = threading.Lock()


def bot_of(app):
    """The app's TeleBot with the handlers, built on first use."""
    with _lock:
        if "telegram_bot" not in app.extensions:
            from bot import make_bot

            app.extensions["telegram_bot"] = make_bot(app)
        return app.extensions["telegram_bot"]


def first_time(update_id: int) -> bool:
    """Claim ``update_id``: True the first time, False for a repeat. Shared by every
    web process through Redis (SET NX with a day's TTL), else remembered here."""
    from flask import current_app

    redis = get_redis()
    if redis is not None:
        key = f"{current_app.config['REDIS_PREFIX']}telegram:update:{update_id}"
        return bool(redis.set(key, 1, nx=True, ex=SEEN_TTL))
    with _lock:
        seen = current_app.extensions.setdefault("telegram_seen", OrderedDict())
        if update_id in seen:
            return False
        seen[update_id] = True
        while len(seen) > SEEN_MAX:
            seen.popitem(last=False)
        return True
