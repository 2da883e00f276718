"""Chat pages, the no-JavaScript actions and the room's WebSocket.

With JavaScript the composer sends over the socket (webapp.chat.live); without it, the
same form posts here and the page shows the new message. Editing and deleting are
plain requests in both cases; every open socket of the room then receives the change.
"""
from flask import (Response, abort, current_app, flash, redirect, render_template,
                   request, url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp import htmx
from webapp.chat import bp
from webapp.chat.forms import EditForm, MessageForm
from webapp.chat.hub import get_hub
from webapp.chat.live import LiveSocket, Viewer
from webapp.chat.markup import body_html, excerpt
from webapp.chat.page import older, room_view
from webapp.extensions import db, sock
from webapp.forms import id_arg, show_service_error
from webapp.errors.handlers import service_status
from webapp.reviews.page import coffee_page_context
from webapp.services import Forbidden, NotFound, RateLimited, ServiceError, chat
from webapp.models.base import utcnow
from webapp.services.chat import EDIT_WINDOW

ROOM_PAGE, ROOM_FRAGMENT = "chat/room.html", "chat/_room.html"


bp.add_app_template_global(body_html, "chat_body")
bp.add_app_template_global(excerpt, "chat_excerpt")
bp.add_app_template_global(chat.room_title, "chat_room_title")


@bp.app_template_global()
def chat_editable(message) -> bool:
    """Whether its author may still edit ``message`` (the service checks again)."""
    return not message.deleted and utcnow() - message.created_at <= EDIT_WINDOW


@bp.before_app_request
def check_handshake():
    """Before a socket upgrades: the room exists (else 404) and the page asking is ours
    (else 403): a foreign Origin would ride on the visitor's cookies (cross-site
    WebSocket hijacking). The session is read here, once; each action re-checks it."""
    if request.endpoint != "chat.socket":
        return
    if request.headers.get("Origin") != request.host_url.rstrip("/"):
        abort(403, description=_("This connection must come from a Crema page."))
    chat.get_room(request.view_args["room_id"])
    from webapp.notifications.live import open_sockets  # which imports the chat's live

    if open_sockets(current_app._get_current_object()) >= current_app.config["CHAT_MAX_SOCKETS"]:
        # Full: the page's socket reconnects later (a refused handshake is a 1006 to it),
        # perhaps to another process; page requests keep their room in the pool.
        abort(Response(_("Too many open conversations here. Trying again shortly."), 503,
                       {"Retry-After": "5"}))


@bp.get("/chat")
def index():
    """Every room with its last message and, for a logged-in user, the unread count."""
    user_id = current_user.id if current_user.is_authenticated else None
    return htmx.render("chat/index.html", "chat/_index.html", rooms=chat.rooms_overview(user_id))


@bp.get("/chat/<int:room_id>")
def room(room_id: int):
    """The room's latest messages, or an archive page (``before``); ``reply_to`` opens
    the composer on a reply.

    :raise 404: unknown room.
    """
    room = chat.get_room(room_id)
    view = room_view(room, before=id_arg(request.args, "before"),
                     reply_to_id=id_arg(request.args, "reply_to"))
    return htmx.render(ROOM_PAGE, ROOM_FRAGMENT, chat=view)


@bp.get("/chat/<int:room_id>/older")
def older_messages(room_id: int):
    """The 50 messages before ``before``: a fragment that htmx puts above the others,
    or the archive page.

    :raise 404: unknown room.
    """
    room = chat.get_room(room_id)
    before = id_arg(request.args, "before")
    if before is None:
        abort(404)
    if not htmx.is_fragment_request():
        return redirect(url_for("chat.room", room_id=room_id, before=before))
    messages, has_older, mentions = older(room, before)
    return render_template("chat/_older.html", room=room, messages=messages,
                           has_older=has_older, mentions=mentions,
                           viewer=Viewer.of(current_user))


@bp.post("/chat/<int:room_id>/messages")
@login_required
def post(room_id: int):
    """Post a message without the socket (no JavaScript).

    :raise 404: unknown room. :raise 422: invalid message. :raise 429: flood; nothing stored.
    """
    room = chat.get_room(room_id)
    form = MessageForm()
    try:
        if not form.validate():
            raise ServiceError(_("The form expired. Send it again."))
        message = chat.post_message(room.id, current_user.id, form.body.data or "",
                                    reply_to_id=_reply_to(form.reply_to.data))
    except (NotFound, Forbidden):
        raise
    except ServiceError as err:
        db.session.rollback()
        return _refused(room, form, err)
    return htmx.see_other(_room_url(room, request.form.get("from")) + f"#msg-{message.id}")


def _refused(room, form: MessageForm, err: ServiceError):
    """The page again, the text kept in the composer and the reason under it."""
    show_service_error(form, err)
    on_coffee = request.form.get("from") == "coffee" and room.kind == "coffee"
    try:
        reply_to_id = _reply_to(form.reply_to.data)
    except ServiceError:
        reply_to_id = None
    view = room_view(room, reply_to_id=reply_to_id, form=form, standalone=not on_coffee,
                     error=err.message)
    status = service_status(err)
    if on_coffee:
        context = coffee_page_context(room.coffee_id)
        context["chat"] = view
        response = htmx.render("coffees/show.html", ROOM_FRAGMENT, status=status, **context)
    else:
        response = htmx.render(ROOM_PAGE, ROOM_FRAGMENT, status=status, chat=view)
    if isinstance(err, RateLimited):
        response.headers["Retry-After"] = str(err.retry_after)
    return response


def _reply_to(value: str | None) -> int | None:
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise ServiceError(_("You can only reply to a message in this room."), field="reply_to")
    return int(value)


def _room_url(room, origin: str | None) -> str:
    if origin == "coffee" and room.kind == "coffee":
        return url_for("coffees.show", coffee_id=room.coffee_id)
    return url_for("chat.room", room_id=room.id)


@bp.get("/chat/messages/<int:message_id>")
def message(message_id: int):
    """One message: the fragment (after cancelling an edit), else its place in the room.

    :raise 404: unknown message.
    """
    found = chat.load_message(message_id)
    if not htmx.is_fragment_request():
        return redirect(url_for("chat.room", room_id=found.room_id, before=found.id + 1)
                        + f"#msg-{found.id}")
    return _message_fragment(found)


def _message_fragment(found, status: int = 200):
    return htmx.fragment_response(render_template(
        "chat/_message.html", m=found, viewer=Viewer.of(current_user), csrf=True,
        mentions=chat.mention_names([found])), status)


@bp.route("/chat/messages/<int:message_id>/edit", methods=["GET", "POST"])
@login_required
def edit(message_id: int):
    """Edit one's own message within 15 minutes.

    :raise 404: unknown message. :raise 403: someone else's. :raise 422: invalid or too late.
    """
    found = chat.load_message(message_id)
    form = EditForm()
    if request.method == "GET":
        form.body.data = found.body
    status = 200
    if request.method == "POST":
        try:
            if not form.validate():
                raise ServiceError(_("The form expired. Send it again."))
            edited = chat.edit_message(message_id, current_user.id, form.body.data or "")
        except (NotFound, Forbidden):
            raise
        except ServiceError as err:
            db.session.rollback()
            show_service_error(form, err)
            status = 422
        else:
            if htmx.is_fragment_request():
                return _message_fragment(edited)
            flash(_("Your message is updated."), "success")
            return htmx.see_other(url_for("chat.room", room_id=edited.room_id,
                                          before=edited.id + 1) + f"#msg-{edited.id}")
    elif found.user_id != current_user.id:
        abort(403)
    return htmx.render("chat/edit.html", "chat/_edit.html", status=status, form=form,
                       m=found, room_title=chat.room_title(chat.get_room(found.room_id)))


@bp.post("/chat/messages/<int:message_id>/delete")
@login_required
def delete(message_id: int):
    """Delete a message: its author, or a moderator. It stays in place as "removed".

    :raise 404: unknown message. :raise 403: neither author nor moderator.
    """
    deleted = chat.delete_message(message_id, current_user.id)
    if htmx.is_fragment_request():
        return _message_fragment(deleted)
    flash(_("The message is deleted."), "info")
    return htmx.see_other(url_for("chat.room", room_id=deleted.room_id,
                                  before=deleted.id + 1) + f"#msg-{deleted.id}")


@sock.route("/chat/<int:room_id>/ws", bp=bp)
def socket(ws, room_id: int):
    """The room's live socket (see webapp.chat.live); check_handshake ran first."""
    viewer = Viewer.of(current_user)
    db.session.remove()
    LiveSocket(ws, room_id, viewer, get_hub(current_app._get_current_object())).run()
