"""Settings → Telegram: connect the account to the bot with a one-time deep link (and
its QR code), watch for the bot to link it, disconnect.

The token is shown only in the answer to the POST that made it: the database keeps its
hash, so a reload shows the Connect button again. Without a bot configured these
routes answer 404 and no page links to them.
"""
import functools
import math

from flask import abort, current_app, flash, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from webapp import htmx, qr
from webapp.models.base import utcnow
from webapp.profiles import bp
from webapp.services import telegram as service

PAGE, SECTION, STATUS = ("profiles/telegram.html", "profiles/_telegram.html",
                         "profiles/_telegram_status.html")


@bp.app_template_global()
def telegram_configured() -> bool:
    return service.configured()


@bp.app_template_global()
def my_telegram():
    """The current user's Telegram link, or None (for the profile's entry point)."""
    return service.link_of(current_user.id) if current_user.is_authenticated else None


def needs_bot(view):
    """:raise 404: when the site has no Telegram bot."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not service.configured():
            abort(404)
        return view(*args, **kwargs)
    return wrapped


@bp.get("/settings/telegram")
@login_required
@needs_bot
def telegram():
    return _render_current()


@bp.post("/settings/telegram/connect")
@login_required
@needs_bot
def telegram_connect():
    """A new one-time link (earlier unused ones stop working), shown once: its deep
    link, its QR code and how long it works. Already connected: the page as it is."""
    if service.link_of(current_user.id) is not None:
        return htmx.see_other(url_for("profiles.telegram"))
    link = service.deep_link(service.new_token("link", current_user.id))
    return htmx.render(PAGE, SECTION, state="pending", link=link, qr=qr_svg(link),
                       minutes=math.ceil(current_app.config["TELEGRAM_TOKEN_TTL"] / 60))


@bp.get("/settings/telegram/status")
@login_required
@needs_bot
def telegram_status():
    """For the waiting page's poll: still waiting (the status line, polled again), the
    link gone unused (the status line, no more polling), or connected (the whole
    section, swapped in place of the pending one). A full request gets the page."""
    if not htmx.is_fragment_request():
        return _render_current()
    found = service.link_of(current_user.id)
    if found is not None:
        flash(_("Telegram is connected."), "success")  # said aloud: #flashes is a live region
        response = htmx.render(PAGE, SECTION, state="connected", found=found)
        return htmx.reswap(htmx.retarget(response, "#telegram"), "outerHTML")
    expires_at = service.pending_link(current_user.id)
    return htmx.render(PAGE, STATUS, waiting=expires_at is not None, expires_at=expires_at)


@bp.post("/settings/telegram/disconnect")
@login_required
@needs_bot
def telegram_disconnect():
    if service.unlink(current_user.id):
        flash(_("Telegram is disconnected: the bot no longer writes to you."), "success")
    if htmx.is_fragment_request():
        return _render_current()
    return htmx.see_other(url_for("profiles.telegram"))


def _render_current():
    found = service.link_of(current_user.id)
    if found is not None:
        return htmx.render(PAGE, SECTION, state="connected", found=found)
    return htmx.render(PAGE, SECTION, state="start",
                       pending=service.pending_link(current_user.id) is not None)


def qr_svg(link: str) -> Markup:
    return qr.qr_svg(link, _("QR code of the link to the Crema bot in Telegram"))
