"""Sign up, log in, log out."""
from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from webapp import htmx, security
from webapp.forms import refuse_flood, show_service_error
from webapp.auth import bp
from webapp.auth.forms import LoginForm, RegisterForm
from webapp.extensions import limiter
from webapp.ratelimit import Verdict
from webapp.services import ServiceError
from webapp.services import users as user_service


def _client_ip() -> str:
    return request.remote_addr or "unknown"


def _account_key(login: str) -> str:
    """One key per account whether it is typed as username or email, else the typed login."""
    user = user_service.find_by_login(login)
    return f"user:{user.id}" if user is not None else "login:" + login.strip().lower()


def _count_login_attempt(account: str, ip: str) -> Verdict:
    """Count a log-in attempt against every log-in limit, before any password is checked.

    The first limit that refuses ends the count: a stranger refused per account and IP
    then does not also use up the account's ceiling, which would lock its owner out.
    """
    verdict = Verdict(True)
    for name, identifiers in (("login-ip", (ip,)), ("login-account-ip", (account, ip)),
                              ("login-account", (account,))):
        verdict = limiter.consume(name, *identifiers)
        if not verdict.allowed:
            break
    return verdict


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return htmx.see_other(url_for("main.index"))
    form = RegisterForm()
    page, fragment = "auth/register.html", "auth/_register_form.html"
    if request.method == "GET":
        return htmx.render(page, fragment, form=form)
    # Every sign-up counts, refused ones too: a flood of bad forms is a flood.
    verdict = limiter.consume("register-ip", _client_ip())
    if not verdict.allowed:
        return refuse_flood(page, fragment, form,
                            _("Too many sign-ups from your network. Try again later."), verdict)
    if not form.validate():
        return htmx.render(page, fragment, status=422, form=form)
    try:
        user = user_service.register_user(form.username.data, form.email.data, form.password.data)
    except ServiceError as err:
        show_service_error(form, err)
        return htmx.render(page, fragment, status=422, form=form)
    security.log_in(user)
    flash(_("Welcome to Crema, %(name)s!", name=user.username), "success")
    return security.navigate(url_for("profiles.show", username=user.username))


@bp.get("/check-username")
def check_username():
    """Live availability check while typing the username."""
    username = request.args.get("username", "").strip()
    try:
        user_service.validate_username(username)
        available, message = True, _("%(name)s is available.", name=username)
    except ServiceError as err:
        available, message = False, str(err.message)
    return htmx.render("auth/username_check.html", "auth/_username_check.html",
                       username=username, available=available, message=message)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    page, fragment = "auth/login.html", "auth/_login_form.html"
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        return htmx.render(page, fragment, form=form)
    if not form.validate():
        return htmx.render(page, fragment, status=422, form=form)
    account, ip = _account_key(form.login.data), _client_ip()
    verdict = _count_login_attempt(account, ip)
    if not verdict.allowed:  # refused before the password is looked at
        return refuse_flood(page, fragment, form, ngettext(
            "Too many log-in attempts. Try again in %(num)d minute.",
            "Too many log-in attempts. Try again in %(num)d minutes.", verdict.retry_minutes,
        ), verdict)
    user = user_service.authenticate(form.login.data, form.password.data)
    if user is None:
        form.form_errors.append(_("Wrong username, email or password."))
        return htmx.render(page, fragment, status=422, form=form)
    limiter.clear("login-account-ip", account, ip)
    security.log_in(user, remember=form.remember.data)
    flash(_("Welcome back, %(name)s.", name=user.name), "success")
    return security.navigate(htmx.safe_next(form.next.data, url_for("main.index")))


@bp.post("/logout")
@login_required
def logout():
    security.log_out()  # a copy of this browser's cookies no longer signs anyone in
    flash(_("You have been logged out."), "info")
    return security.forget_browser_data(htmx.see_other(url_for("main.index")))
