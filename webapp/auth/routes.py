"""Sign up, log in, log out."""
from flask import current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from webapp import htmx
from webapp.forms import show_service_error
from webapp.auth import bp
from webapp.auth.forms import LoginForm, RegisterForm
from webapp.extensions import limiter
from webapp.services import ServiceError
from webapp.services import users as user_service


def _client_ip() -> str:
    return request.remote_addr or "unknown"


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return htmx.see_other(url_for("main.index"))
    form = RegisterForm()
    page, fragment = "auth/register.html", "auth/_register_form.html"
    if request.method == "GET":
        return htmx.render(page, fragment, form=form)
    ip_key = f"register:ip:{_client_ip()}"
    if limiter.limited(ip_key, current_app.config["REGISTER_LIMIT_IP"]):
        form.form_errors.append(_("Too many sign-ups from your network. Try again later."))
        return htmx.render(page, fragment, status=429, form=form)
    if not form.validate():
        return htmx.render(page, fragment, status=422, form=form)
    try:
        user = user_service.register_user(form.username.data, form.email.data, form.password.data)
    except ServiceError as err:
        show_service_error(form, err)
        return htmx.render(page, fragment, status=422, form=form)
    limiter.hit(ip_key, 3600)
    login_user(user)
    flash(_("Welcome to Crema, %(name)s!", name=user.username), "success")
    return htmx.see_other(url_for("profiles.show", username=user.username))


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
    cfg = current_app.config
    account_key = f"login:account:{form.login.data.strip().lower()}"
    ip_key = f"login:ip:{_client_ip()}"
    if limiter.limited(account_key, cfg["LOGIN_LIMIT_ACCOUNT"]) or limiter.limited(
        ip_key, cfg["LOGIN_LIMIT_IP"]
    ):
        minutes = cfg["LOGIN_LIMIT_WINDOW"] // 60
        form.form_errors.append(
            _("Too many failed attempts. Try again in %(n)d minutes.", n=minutes)
        )
        response = htmx.render(page, fragment, status=429, form=form)
        response.headers["Retry-After"] = str(cfg["LOGIN_LIMIT_WINDOW"])
        return response
    user = user_service.authenticate(form.login.data, form.password.data)
    if user is None:
        limiter.hit(account_key, cfg["LOGIN_LIMIT_WINDOW"])
        limiter.hit(ip_key, cfg["LOGIN_LIMIT_WINDOW"])
        form.form_errors.append(_("Wrong username, email or password."))
        return htmx.render(page, fragment, status=422, form=form)
    limiter.reset(account_key)
    login_user(user, remember=form.remember.data)
    flash(_("Welcome back, %(name)s.", name=user.name), "success")
    return htmx.see_other(htmx.safe_next(form.next.data, url_for("main.index")))


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash(_("You have been logged out."), "info")
    return htmx.see_other(url_for("main.index"))
