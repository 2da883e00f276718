"""Public profiles and the account's own settings."""
from flask import abort, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user

from webapp import htmx
from webapp.extensions import limiter
from webapp.forms import refuse_flood, show_service_error
from webapp.profiles import bp
from webapp.profiles.forms import PasswordForm, SettingsForm
from webapp.services import ServiceError
from webapp.services import reviews as review_service
from webapp.services import users as user_service


@bp.get("/users/<username>")
def show(username: str):
    """:raise 404: when there is no such user."""
    return htmx.render("profiles/show.html", "profiles/_profile.html", **profile_context(username))


def profile_context(username: str) -> dict:
    """The user with their review stats and one page of their reviews.

    :raise 404: when there is no such user.
    """
    user = user_service.find_by_username(username)
    if user is None:
        abort(404)
    page = max(1, request.args.get("page", 1, type=int))
    return {
        "user": user,
        "stats": review_service.user_stats(user.id),
        "reviews": review_service.user_reviews(user.id, page, current_app.config["REVIEWS_PER_PAGE"]),
    }


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    form = SettingsForm(obj=current_user if request.method == "GET" else None)
    if request.method == "GET":
        form.locale.data = current_user.locale or ""
    page, fragment = "profiles/settings.html", "profiles/_settings_form.html"
    if request.method == "GET":
        return htmx.render(page, fragment, form=form)
    if not form.validate():
        return htmx.render(page, fragment, status=422, form=form)
    try:
        user_service.update_profile(current_user.id, form.display_name.data or "",
                                    form.bio.data or "", form.locale.data)
    except ServiceError as err:
        show_service_error(form, err)
        return htmx.render(page, fragment, status=422, form=form)
    flash(_("Your profile has been saved."), "success")
    return htmx.see_other(url_for("profiles.show", username=current_user.username))


@bp.route("/settings/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    page, fragment = "profiles/password.html", "profiles/_password_form.html"
    if request.method == "GET":
        return htmx.render(page, fragment, form=form)
    if not form.validate():
        return htmx.render(page, fragment, status=422, form=form)
    # Counted before the current password is checked, so a stolen session cannot guess it.
    verdict = limiter.consume("password-check", current_user.id)
    if not verdict.allowed:
        return refuse_flood(page, fragment, form, ngettext(
            "Too many password attempts. Try again in %(num)d minute.",
            "Too many password attempts. Try again in %(num)d minutes.", verdict.retry_minutes,
        ), verdict)
    try:
        user = user_service.change_password(current_user.id, form.current_password.data,
                                            form.new_password.data)
    except ServiceError as err:
        show_service_error(form, err)
        return htmx.render(page, fragment, status=422, form=form)
    limiter.clear("password-check", current_user.id)
    # The new session token signs out other sessions; keep this one signed in.
    login_user(user)
    flash(_("Your password has been changed."), "success")
    return htmx.see_other(url_for("profiles.settings"))
