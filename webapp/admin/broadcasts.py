"""Broadcasts to linked Telegram users, for admins: write, preview, send, watch.

``/admin/broadcast``: the form. Preview sends the text to the admin's own Telegram;
Send first shows how many people the message goes to and asks to confirm (a second
POST carrying a one-time code kept in the session, so that a double click sends once);
the broadcast is then written and its job queued, and the browser goes to its progress
page, which htmx refreshes every second until the job is done.
"""
import hashlib
import secrets

from flask import current_app, flash, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from webapp import htmx
from webapp.admin import bp
from webapp.admin.forms import BroadcastForm
from webapp.admin.routes import admin_required
from webapp.forms import page_number, show_service_error
from webapp.services import ServiceError, telegram
from webapp.services import broadcasts as service

CONFIRM_KEY = "broadcast_confirm"


@bp.route("/broadcast", methods=["GET", "POST"])
@admin_required
def broadcast():
    """:raise 422: a bad message or audience, a preview Telegram did not take, or an
    expired confirmation (nothing is saved or sent)."""
    form = BroadcastForm()
    if request.method == "GET":
        return _form_page(form)
    form.validate()  # no rules of its own (the service checks): makes the error lists
    action = request.form.get("action", "send")
    try:
        if action == "preview":
            service.preview(current_user.id, form.text.data or "")
            return _form_page(form, notice=_("The preview is in your Telegram."))
        if action == "send" and form.confirm.data:
            confirmed = _confirmed(form)
            if confirmed is False:
                form.form_errors.append(_("This confirmation was used or has expired: nothing "
                                          "was sent now. Check the past broadcasts, then send "
                                          "again."))
                return _form_page(form, status=422)
            if confirmed:
                return _send(form, once=form.confirm.data)
        if action == "send":  # first step, or the message or audience changed since
            count = _check(form)
            if count is None:
                return _form_page(form, status=422)
            code = secrets.token_urlsafe(16)
            session[CONFIRM_KEY] = f"{code}:{_digest(form)}"
            return _form_page(form, confirm=code, count=count)
    except ServiceError as err:
        show_service_error(form, err)
        return _form_page(form, status=422)
    return _form_page(form)  # search: the same form, the coffees found


def _digest(form) -> str:
    """What the admin confirmed: the message and the audience."""
    what = "\0".join([form.text.data or "", form.audience.data or "", str(form.coffee.data)])
    return hashlib.sha256(what.encode()).hexdigest()


def _confirmed(form) -> bool | None:
    """True: the code the confirmation carried, for this very message and audience (used
    up now); None: the code, but the form changed since (ask again); False: no such code."""
    code, _sep, digest = session.pop(CONFIRM_KEY, "").partition(":")
    if not code or not secrets.compare_digest(code, form.confirm.data):
        return False
    return True if secrets.compare_digest(digest, _digest(form)) else None


def _check(form) -> int | None:
    """How many people the broadcast would reach; None when the message or the audience
    is refused (each refusal shown at its field)."""
    count = None
    for check in (lambda: service.clean_text(form.text.data or ""),
                  lambda: service.audience_size(form.audience.data, form.coffee.data)):
        try:
            count = check()
        except ServiceError as err:
            show_service_error(form, err)
    return None if form.errors or form.form_errors else count


def _send(form, once: str):
    made = service.create(current_user.id, form.text.data or "", form.audience.data,
                          form.coffee.data, once=once)
    flash(ngettext("The broadcast is on its way to %(num)d person.",
                   "The broadcast is on its way to %(num)d people.", made.total), "success")
    return htmx.see_other(url_for("admin.broadcast_progress", broadcast_id=made.id))


def _form_page(form, status: int = 200, **context):
    query = (form.coffee_q.data or "").strip()[:100]
    coffees = service.followed_coffees(query)
    form.coffee.choices = [("", _("Choose a coffee"))] + [
        (str(cid), f"{name} ({roaster}) · {count}") for cid, name, roaster, count in coffees]
    if form.coffee.data and str(form.coffee.data) not in {c[0] for c in form.coffee.choices}:
        form.coffee.choices.append((str(form.coffee.data), _("Coffee %(id)s", id=form.coffee.data)))
    return htmx.render("admin/broadcast.html", "admin/_broadcast_form.html", status=status,
                       form=form, has_bot=telegram.configured(), **context)


@bp.get("/broadcast/<int:broadcast_id>")
@admin_required
def broadcast_progress(broadcast_id: int):
    """Sent, failed, blocked and remaining; the final report once done.

    :raise 404: no such broadcast.
    """
    return htmx.render("admin/broadcast_progress.html", "admin/_broadcast_progress.html",
                       p=service.progress(broadcast_id))


@bp.get("/broadcasts")
@admin_required
def broadcasts():
    """Past broadcasts, newest first."""
    pagination = service.recent(page_number(request.args),
                                current_app.config["BROADCASTS_PER_PAGE"])
    return htmx.render("admin/broadcasts.html", "admin/_broadcasts.html", pagination=pagination)
