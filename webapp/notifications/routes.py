"""The bell in the header, the list of one's notifications, following and muting, the
notification settings and unsubscribing from email."""
from datetime import date, datetime, timedelta

import click
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp import htmx, jobs
from webapp.extensions import csrf, db
from webapp.models import Coffee
from webapp.models.base import utcnow
from webapp.notifications import bp
from webapp.notifications.forms import KIND_LABELS, PrefsForm
from webapp.services import ServiceError, channels, chat, follows, notification_prefs
from webapp.services import notifications as service

PAGE_SIZE = 30


@bp.app_template_global()
def unread_notifications() -> int:
    """The current user's unread count, for the bell (0 for a visitor)."""
    return service.unread_count(current_user.id) if current_user.is_authenticated else 0


@bp.app_template_global()
def notification_target(n, external: bool = False) -> str:
    """Where a notification leads: the message, the room, or the review (``external``:
    an absolute address, for a mail)."""
    if n.kind in ("mention", "reply") and n.message_id is not None:
        return url_for("chat.room", room_id=n.room_id, before=n.message_id + 1,
                       _external=external) + f"#msg-{n.message_id}"
    if n.kind == "chat" and n.room_id is not None:
        return url_for("chat.room", room_id=n.room_id, _external=external)
    if n.kind == "review" and n.coffee_id is not None:
        return url_for("coffees.show", coffee_id=n.coffee_id, _external=external) + \
            f"#review-{n.review_id}"
    return url_for("notifications.index", _external=external)


@bp.get("/notifications")
@login_required
def index():
    """One's notifications, most recent first, 30 a page (``before``: older ones)."""
    before = _moment(request.args.get("before"))
    items = service.latest(current_user.id, PAGE_SIZE + 1, before=before, with_subjects=True)
    return htmx.render("notifications/index.html", "notifications/_list.html",
                       items=items[:PAGE_SIZE], more=len(items) > PAGE_SIZE)


@bp.get("/notifications/<int:notification_id>")
@login_required
def open_one(notification_id: int):
    """Mark one notification read and go where it leads.

    :raise 404: not one of the user's notifications.
    """
    found = service.get(current_user.id, notification_id)
    if found is None:
        abort(404)
    service.mark_read(current_user.id, notification_id)
    target = notification_target(found)
    if htmx.is_htmx() and "#" in target:
        # A boosted click follows a redirect in the background and drops its #fragment:
        # a full navigation keeps it, so the page opens at the message.
        return htmx.hx_redirect(target)
    return redirect(target, code=303)


@bp.post("/notifications/read")
@login_required
def read_all():
    service.mark_read(current_user.id)
    return htmx.see_other(url_for("notifications.index"))


@bp.post("/follow/rooms/<int:room_id>", defaults={"coffee_id": None}, endpoint="follow_room")
@bp.post("/follow/coffees/<int:coffee_id>", defaults={"room_id": None}, endpoint="follow_coffee")
@login_required
def follow(room_id: int | None, coffee_id: int | None):
    """Follow (``following=1``) or stop following (``0``) a room or a coffee's reviews.

    :raise 404: unknown room or coffee. :raise 422: neither 1 nor 0.
    """
    wanted = _switch(room_id, coffee_id, "following", _("Choose to follow or not."))
    (follows.follow if wanted else follows.unfollow)(current_user.id, room_id, coffee_id)
    return _switched("notifications/_follow.html", room_id, coffee_id, following=wanted,
                     alone=True)


@bp.post("/mute/rooms/<int:room_id>", defaults={"coffee_id": None}, endpoint="mute_room")
@bp.post("/mute/coffees/<int:coffee_id>", defaults={"room_id": None}, endpoint="mute_coffee")
@login_required
def mute(room_id: int | None, coffee_id: int | None):
    """Mute (``muted=1``) or unmute (``0``) a room's conversation, or a coffee (its
    reviews and its room); follows stay.

    :raise 404: unknown room or coffee. :raise 422: neither 1 nor 0.
    """
    wanted = _switch(room_id, coffee_id, "muted", _("Choose to mute or not."))
    (follows.mute if wanted else follows.unmute)(current_user.id, room_id, coffee_id)
    return _switched("notifications/_mute.html", room_id, coffee_id, muted=wanted)


def _switch(room_id: int | None, coffee_id: int | None, name: str, refusal: str) -> bool:
    """The on (1) or off (0) of form field ``name`` about an existing room or coffee.

    :raise 404: unknown room or coffee. :raise 422: neither 1 nor 0.
    """
    if room_id is not None:
        chat.get_room(room_id)
    elif db.session.get(Coffee, coffee_id) is None:
        abort(404)
    wanted = request.form.get(name)
    if wanted not in ("0", "1"):
        abort(422, description=refusal)
    return wanted == "1"


def _switched(fragment: str, room_id: int | None, coffee_id: int | None, **state):
    """The button again for htmx; else back where the form came from."""
    if htmx.is_fragment_request():
        return render_template(fragment, room_id=room_id, coffee_id=coffee_id, **state)
    back = url_for("chat.room", room_id=room_id) if room_id is not None else \
        url_for("coffees.show", coffee_id=coffee_id)
    return htmx.see_other(htmx.safe_next(request.form.get("next"), back))


# Settings ----------------------------------------------------------------------------

def _channels() -> list[str]:
    """The columns of the current user's settings: the app, then each channel they can use."""
    return ["in_app", *(name for name, channel in channels.CHANNELS.items()
                        if channel.available(current_user))]


@bp.route("/settings/notifications", methods=["GET", "POST"])
@login_required
def settings():
    """What to be told of, where, and how email comes; the mutes, each to undo.

    :raise 422: a setting that does not exist, or no email mode (nothing is saved).
    """
    columns = _channels()
    form = PrefsForm(columns)
    if request.method == "GET":
        current = notification_prefs.prefs(current_user.id)
        form.enabled.data = [f"{kind}.{ch}" for kind, on in current.items()
                             for ch in columns if on[ch]]
        form.email_mode.data = "digest" if current_user.email_digest else "immediate"
    elif form.validate():
        try:
            notification_prefs.save_prefs(current_user.id, form.chosen(), columns,
                               form.email_mode.data == "digest")
        except ServiceError as err:
            form.form_errors.append(err.message)
        else:
            flash(_("Your notification settings have been saved."), "success")
            return htmx.see_other(url_for("notifications.settings"))
    status = 422 if form.errors or form.form_errors else 200
    return htmx.render("notifications/settings.html", "notifications/_settings.html",
                       status=status, form=form, columns=columns, kinds=KIND_LABELS,
                       labels=_column_labels(), mutes=follows.mutes(current_user.id))


def _column_labels() -> dict:
    return {"in_app": _("In the app"),
            **{name: channel.label for name, channel in channels.CHANNELS.items()}}


# Unsubscribing (from a mail: no log-in, no session, no CSRF token) ------------------------

@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    """GET asks (mail scanners follow links and must change nothing); POST turns email
    off for the token's kinds, from the page's button or a mail client's one-click
    unsubscribe (RFC 8058), which has neither session nor CSRF token.

    :raise 400: a forged or damaged token (nothing changes).
    """
    try:
        user, kinds = channels.read_unsubscribe_token(token)
    except ServiceError as err:
        abort(400, description=err.message)
    if request.method == "POST":
        state = "done" if channels.unsubscribe(user.id, kinds) else "already"
    else:
        state = "ask" if channels.subscribed(user.id, kinds) else "already"
    labels = [KIND_LABELS[kind] for kind in kinds]
    return htmx.render("notifications/unsubscribe.html", "notifications/_unsubscribe.html",
                       state=state, token=token, labels=labels)


@bp.cli.command("send-digests")
@click.option("--day", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="The day (UTC) whose notifications to send; default: yesterday.")
def send_digests(day: datetime | None) -> None:
    """Mail each digest reader the day's notifications: one job per user (with Redis),
    else sent here. python -m worker runs this daily by itself; without Redis run it
    from cron. Running it again sends nothing twice."""
    wanted: date = day.date() if day else utcnow().date() - timedelta(days=1)
    count = channels.queue_digests(wanted)
    click.echo(f"{count} digest job(s) for {wanted.isoformat()} "
               f"{'queued' if jobs.connection(current_app) else 'run'}.")


def _moment(value: str | None) -> datetime | None:
    if not value or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
