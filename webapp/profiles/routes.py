"""Public profiles and the account's own settings."""
from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_babel import format_timedelta, ngettext
from flask_login import current_user, login_required

from webapp import devices, htmx, security
from webapp.extensions import limiter
from webapp.forms import refuse_flood, show_service_error
from webapp.profiles import bp
from webapp.profiles.forms import PasswordForm, SettingsForm
from webapp.models.base import utcnow
from webapp.services import ServiceError, pages
from webapp.services import sessions as session_service
from webapp.services import users as user_service


@bp.get("/users/<username>")
def show(username: str):
    """:raise 404: when there is no such user."""
    profile = pages.profile_page(username, request.args.get("page", 1, type=int))
    return htmx.render("profiles/show.html", "profiles/_profile.html", **vars(profile))


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
        user_service.change_password(current_user.id, form.current_password.data,
                                     form.new_password.data,
                                     keep_session_id=security.current_session_id())
    except ServiceError as err:
        show_service_error(form, err)
        return htmx.render(page, fragment, status=422, form=form)
    limiter.clear("password-check", current_user.id)
    flash(_("Your password has been changed."), "success")
    return htmx.see_other(url_for("profiles.settings"))


@bp.get("/settings/sessions")
@login_required
def sessions():
    """Where the account is signed in, with a way to sign out any of it."""
    return _render_sessions()


@bp.post("/settings/sessions/<int:session_id>/sign-out")
@login_required
def sign_out_session(session_id: int):
    """:raise NotFound: (a 404) when the account has no such session."""
    if session_id == security.current_session_id():
        security.log_out()
        flash(_("You have been logged out."), "info")
        return security.forget_browser_data(htmx.see_other(url_for("main.index")))
    session_service.end_session(current_user.id, session_id)
    flash(_("That session has been signed out."), "success")
    return _after_sign_out()


@bp.post("/settings/sessions/sign-out-others")
@login_required
def sign_out_other_sessions():
    count = session_service.end_other_sessions(current_user.id, security.current_session_id())
    flash(ngettext("%(num)d other session signed out.", "%(num)d other sessions signed out.",
                   count), "success")
    return _after_sign_out()


def _after_sign_out():
    # htmx swaps the new list in place; without JavaScript the browser reloads the page.
    if htmx.is_fragment_request():
        return _render_sessions()
    return htmx.see_other(url_for("profiles.sessions"))


def _render_sessions():
    current_id, now = security.current_session_id(), utcnow()
    rows = [{
        "id": row.id,
        "device": devices.describe(row.user_agent),
        "ip": row.ip,
        "created_at": row.created_at,
        "last_seen_at": row.last_seen_at,
        "last_seen": format_timedelta(row.last_seen_at - now, granularity="minute",
                                      add_direction=True),
        "current": row.id == current_id,
    } for row in session_service.list_sessions(current_user.id)]
    return htmx.render("profiles/sessions.html", "profiles/_sessions.html", sessions=rows,
                       others=sum(not r["current"] for r in rows))
