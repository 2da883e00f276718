"""Sign up, log in, log out; a forgotten password, and confirming one's email."""
from datetime import timedelta

from flask import current_app, flash, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp import htmx, jobs, security
from webapp.forms import refuse_flood, show_service_error
from webapp.auth import bp
from webapp.auth import telegram as telegram_auth
from webapp.auth.forms import ForgotPasswordForm, LoginForm, RegisterForm, ResetPasswordForm
from webapp.extensions import limiter
from webapp.ratelimit import Verdict
from webapp.services import ServiceError
from webapp.services import account_mail
from webapp.services import users as user_service
from webapp.services.account_mail import InvalidLink


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
        form.username.data = telegram_auth.suggested_username()
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
    _mail_confirmation(user.id)
    security.log_in(user)
    telegram_auth.link_pending(user, new_account=True)
    flash(_("Welcome to Crema, %(name)s!", name=user.username), "success")
    flash(_("We sent a link to %(email)s: open it to confirm your email address.",
            email=user.email), "info")
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
@telegram_auth.widget_csp
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
    telegram_auth.link_pending(user)
    flash(_("Welcome back, %(name)s.", name=user.name), "success")
    return security.navigate(htmx.safe_next(form.next.data, url_for("main.index")))


@bp.post("/logout")
@login_required
def logout():
    security.log_out()  # a copy of this browser's cookies no longer signs anyone in
    flash(_("You have been logged out."), "info")
    return security.forget_browser_data(htmx.see_other(url_for("main.index")))


# A forgotten password -------------------------------------------------------------------

@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    """Ask for a reset link. Whether an account uses the address or not, the answer is
    the same page with the same words and status, and the lookup and the mail are a job."""
    form = ForgotPasswordForm()
    page, fragment = "auth/forgot_password.html", "auth/_forgot_password_form.html"
    if request.method == "GET":
        return htmx.render(page, fragment, form=form)
    verdict = limiter.consume("password-reset-ip", _client_ip())  # refused forms count too
    if not verdict.allowed:
        return refuse_flood(page, fragment, form, ngettext(
            "Too many password reset requests from your network. Try again in %(num)d minute.",
            "Too many password reset requests from your network. Try again in %(num)d minutes.",
            verdict.retry_minutes), verdict)
    if not form.validate():
        return htmx.render(page, fragment, status=422, form=form)
    address = account_mail.normalise_address(form.email.data)
    # Counted per address, whether an account uses it or not, so that the count tells
    # nothing either; past it the answer stays the same, and no more mail goes there.
    if limiter.consume("password-reset-account", address).allowed:
        jobs.enqueue(account_mail.send_password_reset, address, account_mail.new_nonce(),
                     str(get_locale()))
    return htmx.render(page, fragment, form=form, sent_to=address, valid_for=timedelta(
        seconds=current_app.config["PASSWORD_RESET_MAX_AGE"]))


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Choose a new password through a mailed link; every session of the account ends,
    and this browser logs in. A forged, expired or used link gets a 400 page."""
    try:
        user = account_mail.user_for_reset(token)
    except InvalidLink as err:
        return _unusable_link(err, url_for("auth.forgot_password"), _("Ask for a new link"))
    form = ResetPasswordForm()
    page, fragment = "auth/reset_password.html", "auth/_reset_password_form.html"
    if request.method == "GET":
        return htmx.render(page, fragment, form=form, token=token, user=user)
    if not form.validate():
        return htmx.render(page, fragment, status=422, form=form, token=token, user=user)
    try:
        user = account_mail.reset_password(token, form.password.data)
    except InvalidLink as err:  # used meanwhile, from another tab
        return _unusable_link(err, url_for("auth.forgot_password"), _("Ask for a new link"))
    except ServiceError as err:
        show_service_error(form, err)
        return htmx.render(page, fragment, status=422, form=form, token=token, user=user)
    if current_user.is_authenticated:
        security.log_out()  # whoever was logged in here (their session may be gone already)
    security.log_in(user)
    flash(_("Your password has been changed, and every other session signed out."), "success")
    return security.navigate(url_for("main.index"))


# Confirming one's email ------------------------------------------------------------------

@bp.get("/email/confirm/<token>")
def confirm_email(token: str):
    """Open a confirmation link: the address is confirmed (or was already)."""
    try:
        user, already = account_mail.confirm_email(token)
    except InvalidLink as err:
        return _unusable_link(err, url_for("profiles.settings"), _("Go to your settings"))
    title = _("Your email address is confirmed") if not already else \
        _("Your email address was already confirmed")
    return htmx.render("auth/link.html", "auth/_link.html", title=title,
                       message=_("Thank you: %(email)s is confirmed as your address.",
                                 email=user.email),
                       action_url=url_for("main.index"), action_label=_("Go to Crema"))


@bp.post("/email/confirm/resend")
@login_required
def resend_confirmation():
    """Mail the confirmation link again (the notice on the settings page)."""
    page, fragment = "auth/confirm_notice.html", "auth/_confirm_notice.html"
    if current_user.email_confirmed_at is not None:
        note = _("Your email address is already confirmed.")
    else:
        verdict = limiter.consume("confirm-resend", current_user.id)
        if not verdict.allowed:
            response = htmx.render(page, fragment, status=429, error=ngettext(
                "You asked for several links already. Try again in %(num)d minute.",
                "You asked for several links already. Try again in %(num)d minutes.",
                verdict.retry_minutes))
            response.headers["Retry-After"] = str(verdict.retry_after)
            return response
        _mail_confirmation(current_user.id)
        note = _("We sent a new link to %(email)s.", email=current_user.email)
    if htmx.is_fragment_request():
        return htmx.render(page, fragment, note=note)
    flash(note, "success")
    return htmx.see_other(url_for("profiles.settings"))


def _mail_confirmation(user_id: int) -> None:
    jobs.enqueue(account_mail.send_confirmation, user_id, account_mail.new_nonce(),
                 str(get_locale()))


def _unusable_link(err: InvalidLink, again_url: str, again_label: str):
    """The page of a link that cannot be used (400): why, and where to get a new one."""
    return htmx.render("auth/link.html", "auth/_link.html", status=400,
                       title=_("This link cannot be used"), message=err.message,
                       action_url=again_url, action_label=again_label)
