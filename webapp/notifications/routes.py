"""The bell in the header and the list of one's notifications."""
from datetime import datetime

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from flask_babel import gettext as _

from webapp import htmx
from webapp.extensions import db
from webapp.models import Coffee
from webapp.notifications import bp
from webapp.services import chat
from webapp.services import notifications as service

PAGE_SIZE = 30


@bp.app_template_global()
def unread_notifications() -> int:
    """The current user's unread count, for the bell (0 for a visitor)."""
    return service.unread_count(current_user.id) if current_user.is_authenticated else 0


@bp.app_template_global()
def notification_target(n) -> str:
    """Where a notification leads: the message, the room, or the review."""
    if n.kind in ("mention", "reply") and n.message_id is not None:
        return url_for("chat.room", room_id=n.room_id, before=n.message_id + 1) + \
            f"#msg-{n.message_id}"
    if n.kind == "chat" and n.room_id is not None:
        return url_for("chat.room", room_id=n.room_id)
    if n.kind == "review" and n.coffee_id is not None:
        return url_for("coffees.show", coffee_id=n.coffee_id) + f"#review-{n.review_id}"
    return url_for("notifications.index")


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
    if room_id is not None:
        chat.get_room(room_id)
    elif db.session.get(Coffee, coffee_id) is None:
        abort(404)
    wanted = request.form.get("following")
    if wanted not in ("0", "1"):
        abort(422, description=_("Choose to follow or not."))
    if wanted == "1":
        service.follow(current_user.id, room_id=room_id, coffee_id=coffee_id)
    else:
        service.unfollow(current_user.id, room_id=room_id, coffee_id=coffee_id)
    if htmx.is_fragment_request():
        return render_template("notifications/_follow.html", room_id=room_id,
                               coffee_id=coffee_id, following=wanted == "1")
    back = url_for("chat.room", room_id=room_id) if room_id is not None else \
        url_for("coffees.show", coffee_id=coffee_id)
    return htmx.see_other(htmx.safe_next(request.form.get("next"), back))


def _moment(value: str | None) -> datetime | None:
    if not value or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
