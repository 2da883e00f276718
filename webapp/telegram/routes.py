"""``POST /telegram/webhook``: Telegram delivers updates here in webhook mode, to the
same handlers ``python -m bot`` runs when polling (bot.handlers).

Telegram sends ``TELEGRAM_WEBHOOK_SECRET`` in ``X-Telegram-Bot-Api-Secret-Token``
(`flask telegram set-webhook` registered it): anything else is refused. Telegram sends
an update again when it got no 200 in time, so each ``update_id`` is handled once
(webapp.telegram.updates).
"""
import hmac
import logging

from flask import abort, current_app, request

from webapp.extensions import csrf
from webapp.services import telegram
from webapp.telegram import bp, updates

log = logging.getLogger(__name__)


@bp.post("/telegram/webhook")
@csrf.exempt  # authenticated by the secret; Telegram has no session or CSRF token
def webhook():
    """:raise 404: the site has no bot or no webhook secret.
    :raise 403: the secret header is missing or wrong.
    :raise 400: the body is not an update.
    """
    secret = current_app.config.get("TELEGRAM_WEBHOOK_SECRET")
    if not telegram.configured() or not secret:
        abort(404)
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        abort(403)
    raw = request.get_json(silent=True)
    update_id = raw.get("update_id") if isinstance(raw, dict) else None
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        abort(400)
    if updates.first_time(update_id):
        from bot import handle_update

        handle_update(updates.bot_of(current_app), current_app._get_current_object(), raw)
    else:
        log.info("update %s came again; handled before", update_id)
    return "", 200
