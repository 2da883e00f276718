"""Login wiring, cookie hardening and response headers."""
from flask import flash, has_request_context, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import lazy_gettext as _l

from webapp import htmx
from webapp.extensions import db
from webapp.models import User

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)


def init_login(app, login_manager) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.user_loader(load_user)
    login_manager.unauthorized_handler(unauthorized)


def unauthorized():
    """Send anonymous visitors to log in; htmx requests navigate there fully."""
    flash(_l("Please log in to see this page."), "info")
    target = url_for("auth.login", next=request.full_path.rstrip("?"))
    if htmx.is_htmx():
        return htmx.hx_redirect(target)
    return redirect(target)


def load_user(user_id: str) -> User | None:
    """Load by ``id:session_token``; a changed token ends old sessions."""
    ident, _, token = user_id.partition(":")
    if not ident.isdigit():
        return None
    user = db.session.get(User, int(ident))
    if user is None or user.session_token != token:
        return None
    return user


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
        if request.is_secure:
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
