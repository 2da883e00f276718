"""Login wiring, server-side sessions, cookie hardening and response headers."""
from flask import (current_app, flash, g, has_request_context, redirect, request, session,
                   url_for)
from flask.sessions import SecureCookieSessionInterface
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user

from webapp import htmx
from webapp.extensions import db
from webapp.models import User
from webapp.services import NotFound
from webapp.services import sessions as session_service

# 'self' covers same-origin WebSockets (ws: and wss:) in current browsers.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)
# Powerful features Crema never uses, denied to it and to anything it might embed.
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "accelerometer", "camera", "display-capture", "geolocation", "gyroscope", "hid",
    "magnetometer", "microphone", "midi", "payment", "serial", "usb",
))
HSTS = "max-age=31536000; includeSubDomains"
# At log-out: the browser drops its HTTP cache and the page storage of this site, where
# htmx keeps its history snapshots.
CLEAR_SITE_DATA = '"cache", "storage"'


def init_login(app, login_manager) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.user_loader(load_user)
    login_manager.unauthorized_handler(unauthorized)

    @app.before_request
    def load_session_first():
        # Loading the user before the view runs keeps the session's last-seen
        # write (see load_user) out of the view's own transaction.
        if request.endpoint != "static":
            current_user._get_current_object()


def unauthorized():
    """Send anonymous visitors to log in; htmx requests navigate there fully.

    A history restore (Back after log-out) gets a plain redirect: htmx swaps in
    whatever that request answers and ignores ``HX-Redirect``.
    """
    flash(_l("Please log in to see this page."), "info")
    target = url_for("auth.login", next=request.full_path.rstrip("?"))
    if htmx.is_htmx() and request.headers.get("HX-History-Restore-Request") != "true":
        return htmx.hx_redirect(target)
    return redirect(target)


def load_user(login_id: str) -> User | None:
    """The user of the live session whose token is ``login_id``, else None."""
    at_start = not db.session().in_transaction()
    row = session_service.find_session(login_id)
    if row is None:
        return None
    user = row.user
    user.login_token, user.login_session_id = login_id, row.id
    if at_start and session_service.needs_touch(row):
        # Nothing else is in this transaction yet, so the commit holds only the touch.
        session_service.touch(row.id)
    return user


def log_in(user: User, remember: bool = False) -> None:
    """Start a server-side session for ``user`` and sign this browser into it."""
    row, token = session_service.start_session(
        user.id, request.user_agent.string, request.remote_addr or "")
    user.login_token, user.login_session_id = token, row.id
    _rotate_csrf_token()
    login_user(user, remember=remember)


def _rotate_csrf_token() -> None:
    # Flask-WTF keeps the raw token in the session and caches the signed one in g;
    # without both, the next form gets a new token and the old one is refused.
    name = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    session.pop(name, None)
    g.pop(name, None)


def log_out() -> None:
    """End this browser's session on the server, then forget it here."""
    session_id = current_session_id()
    if session_id is not None:
        try:
            session_service.end_session(current_user.id, session_id)
        except NotFound:
            pass  # already signed out from another device
    logout_user()


def current_session_id() -> int | None:
    """The id of this browser's session row, when someone is logged in."""
    if not current_user.is_authenticated:
        return None
    return getattr(current_user, "login_session_id", None)


def navigate(url: str):
    """After log-in: a full page load, even for htmx, so that <body> (its CSRF token
    in hx-headers) is rendered anew; a boosted swap would keep the old one."""
    if htmx.is_htmx():
        return htmx.hx_redirect(url)
    return redirect(url, code=303)


def forget_browser_data(response):
    """Mark a log-out response: nothing cached, and the site's storage cleared."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response


class SessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or (has_request_context() and request.is_secure))


def init_headers(app) -> None:
    """Register first: after-request hooks run in reverse, so this one sees every cookie."""
    app.session_interface = SessionInterface()

    @app.after_request
    def harden(response):
        response.vary.add("HX-Request")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if request.endpoint != "static" and current_user.is_authenticated:
            # A logged-in page is private: no browser or proxy may keep a copy.
            response.headers["Cache-Control"] = "no-store"
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
            _secure_cookies(response)
        return response


def _secure_cookies(response) -> None:
    # Cookies set over HTTPS are marked Secure even when the config does not say so.
    cookies = response.headers.getlist("Set-Cookie")
    if not cookies:
        return
    response.headers.remove("Set-Cookie")
    for cookie in cookies:
        if "; secure" not in cookie.lower():
            cookie += "; Secure"
        response.headers.add("Set-Cookie", cookie)
