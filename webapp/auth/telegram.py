"""Log in with Telegram: the Login Widget's callback, and the bot's one-time link for
browsers without JavaScript (webapp.services.telegram_login).

The widget loads Telegram's script and frame: only the log-in page's CSP allows them
(``widget_csp``). A linked Telegram account logs in through ``security.log_in`` like a
password; an unlinked one is kept, verified, in this browser's signed session
(``IDENTITY``) until the next sign-up or password log-in here links it
(``link_pending``). A log-in token lives in the session of the browser that asked
(``TOKEN``): the deep link alone logs nobody in anywhere else.
Without a bot configured every route here answers 404.
"""
import functools
import math

from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from webapp import htmx, qr, security
from webapp.auth import bp
from webapp.extensions import limiter
from webapp.services import ServiceError, telegram
from webapp.services import users as user_service
from webapp.services import telegram_login as service
from webapp.services.telegram_login import Identity, LoginError, WidgetError

IDENTITY, TOKEN, NEXT = "telegram_identity", "telegram_login", "telegram_next"
WIDGET_CSP = security.CSP.replace(
    "script-src 'self'", "script-src 'self' https://telegram.org"
) + "; frame-src https://oauth.telegram.org"
WAIT_PAGE, WAIT_SECTION, WAIT_STATUS = (
    "auth/telegram_wait.html", "auth/_telegram_wait.html", "auth/_telegram_wait_status.html")


def needs_bot(view):
    """:raise 404: when the site has no Telegram bot."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not telegram.configured():
            abort(404)
        return view(*args, **kwargs)
    return wrapped


def widget_csp(view):
    """For the log-in page: Telegram's widget allowed by its CSP, and a boosted visit
    made a full page load (a boosted swap keeps the strict CSP of the page before)."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not telegram.configured():
            return view(*args, **kwargs)
        if request.method == "GET" and request.headers.get("HX-Boosted") == "true":
            return htmx.hx_redirect(request.full_path.rstrip("?"))
        if request.method == "GET":
            session[NEXT] = htmx.safe_next(request.args.get("next"), "")
        response = current_app.make_response(view(*args, **kwargs))
        response.headers["Content-Security-Policy"] = WIDGET_CSP
        return response
    return wrapped


def pending_identity() -> Identity | None:
    """The verified, unlinked Telegram account waiting in this browser's session."""
    return Identity.from_dict(session.get(IDENTITY) or {})


@bp.app_template_global()
def telegram_pending() -> Identity | None:
    return pending_identity() if telegram.configured() else None


def suggested_username() -> str | None:
    """For the sign-up form: the waiting Telegram account's username, when it is free."""
    identity = pending_identity() if telegram.configured() else None
    if identity is None or not identity.username:
        return None
    try:
        user_service.validate_username(identity.username)
    except ServiceError:
        return None
    return identity.username


def link_pending(user, new_account: bool = False) -> None:
    """After a sign-up or log-in here: link the Telegram account waiting in the
    session (a new account also takes its name from Telegram)."""
    identity = pending_identity()
    session.pop(IDENTITY, None)
    if identity is None or not telegram.configured():
        return
    try:
        service.link_identity(user.id, identity)
    except telegram.LinkError as refusal:
        flash(str(telegram.LINK_REFUSALS[refusal.reason]), "warning")
        return
    if new_account and identity.name:
        try:
            user_service.update_profile(user.id, identity.name[:64], "", None)
        except ServiceError:
            pass  # a name the profile refuses: the account keeps its username only
    flash(_("Telegram is connected: next time, log in with Telegram."), "success")


def _sign_in(user, next_url: str | None):
    """Log ``user`` in here (whoever was logged in before is logged out).

    :raise 403: the account may not log in.
    """
    if not user.is_active:
        abort(403)
    if current_user.is_authenticated:
        security.log_out()
    security.log_in(user)
    flash(_("Welcome back, %(name)s.", name=user.name), "success")
    return security.navigate(htmx.safe_next(next_url, url_for("main.index")))


def _refused(message: str, status: int):
    return htmx.render("auth/link.html", "auth/_link.html", status=status,
                       title=_("Log in with Telegram did not work"), message=message,
                       action_url=url_for("auth.login"), action_label=_("Back to log in"))


# The Login Widget -------------------------------------------------------------------------

@bp.get("/telegram/callback")
@needs_bot
def telegram_callback():
    """Where the widget sends the browser back: a linked account logs in, an unlinked
    one is offered sign-up or linking; a bad answer changes nothing (400 or 403)."""
    fields = request.args.to_dict()
    if any(len(values) > 1 for values in request.args.listvalues()):
        fields = {"id": "", "hash": ""}  # a field twice: which one was signed?
    try:
        identity = service.verify_widget(fields, current_app.config["TELEGRAM_BOT_TOKEN"])
    except WidgetError as err:
        return _refused(err.message, err.status)
    next_url = session.pop(NEXT, None)
    user = telegram.user_of(identity.id)
    if user is not None:
        session.pop(IDENTITY, None)
        return _sign_in(user, next_url)
    session[IDENTITY] = identity.as_dict()
    return htmx.see_other(url_for("auth.telegram_unlinked"))


@bp.get("/telegram/unlinked")
@needs_bot
def telegram_unlinked():
    """The offer to an unlinked Telegram account: sign up, or log in and link."""
    identity = pending_identity()
    if identity is None:
        return _refused(_("No log-in with Telegram is waiting here. Log in with Telegram "
                          "again."), 400)
    return htmx.render("auth/telegram_unlinked.html", "auth/_telegram_unlinked.html",
                       identity=identity)


@bp.post("/telegram/forget")
@needs_bot
def telegram_forget():
    """Drop the Telegram account waiting to be linked."""
    session.pop(IDENTITY, None)
    flash(_("The Telegram account will not be connected."), "info")
    return htmx.see_other(url_for("auth.login"))


# Without JavaScript: a one-time link to the bot ------------------------------------------

@bp.post("/telegram/start")
@needs_bot
def telegram_start():
    """A new log-in link to the bot for this browser (an earlier one here is dropped)."""
    verdict = limiter.consume("telegram-login-ip", request.remote_addr or "unknown")
    if not verdict.allowed:
        response = _refused(ngettext(
            "Too many log-in links from your network. Try again in %(num)d minute.",
            "Too many log-in links from your network. Try again in %(num)d minutes.",
            verdict.retry_minutes), 429)
        response.headers["Retry-After"] = str(verdict.retry_after)
        return response
    session[TOKEN] = service.new_login_token(request.user_agent.string,
                                             request.remote_addr or "")
    session[NEXT] = htmx.safe_next(request.form.get("next"), "")
    return htmx.see_other(url_for("auth.telegram_wait"))


@bp.get("/telegram/wait")
@needs_bot
def telegram_wait():
    """The waiting page: the deep link and its QR code, polled until confirmed."""
    token = session.get(TOKEN)
    if not token:
        return _no_login_here()
    return _render_wait(token)


@bp.get("/telegram/status")
@needs_bot
def telegram_status():
    """For the poll: the status line (waiting, confirmed, or why not)."""
    token = session.get(TOKEN)
    if not htmx.is_fragment_request():
        return redirect(url_for("auth.telegram_wait"))
    return htmx.render(WAIT_PAGE, WAIT_STATUS, **_status(token))


@bp.post("/telegram/continue")
@needs_bot
def telegram_continue():
    """Sign in once Telegram has confirmed; before that, the waiting page again."""
    token = session.get(TOKEN)
    if not token:
        return _no_login_here()
    try:
        user = service.claim_login(token)
    except LoginError as err:
        session.pop(TOKEN, None)
        return _refused(err.message, 400)
    if user is None:
        return _render_wait(token, not_yet=True)
    session.pop(TOKEN, None)
    return _sign_in(user, session.pop(NEXT, None))


def _no_login_here():
    return _refused(_("No log-in with Telegram was started in this browser. Start again "
                      "from the log-in page."), 400)


def _status(token: str | None) -> dict:
    state = service.login_state(token) if token else "unknown"
    message = service.LOGIN_REFUSALS[state] if state in service.LOGIN_REFUSALS else None
    return {"state": state, "message": message}


def _render_wait(token: str, not_yet: bool = False):
    link = telegram.deep_link(service.START_PREFIX + token)
    code = qr.qr_svg(link, _("QR code of the log-in link to the Crema bot in Telegram"))
    return htmx.render(WAIT_PAGE, WAIT_SECTION, link=link, qr=code, not_yet=not_yet,
                       minutes=math.ceil(current_app.config["TELEGRAM_TOKEN_TTL"] / 60),
                       **_status(token))
