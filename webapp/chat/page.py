"""A room as a page shows it: for the room's own page and under each coffee."""
from dataclasses import dataclass, field
from datetime import datetime

from flask import after_this_request, current_app
from flask_login import current_user

from webapp import presence
from webapp.chat.forms import MessageForm
from webapp.chat.live import Viewer
from webapp.models import Message, Room
from webapp.models.base import utcnow
from webapp.services import ServiceError, chat, follows

PAGE_SIZE = 50


@dataclass
class RoomView:
    room: Room
    messages: list[Message]
    mentions: dict[int, set[str]]
    has_older: bool
    viewer: Viewer
    form: MessageForm
    count: int
    synced_at: datetime
    before: int | None = None          # an archive page: the messages before this id
    reply_to: Message | None = None    # the composer answers this message
    standalone: bool = True            # the room's own page, not a coffee's
    error: str | None = field(default=None)
    following_room: bool = False       # the viewer follows the room
    following_coffee: bool = False     # and, under a coffee, the coffee's reviews
    muted_room: bool = False           # the viewer muted the room
    muted_coffee: bool = False         # and, under a coffee, the coffee

    @property
    def title(self) -> str:
        return chat.room_title(self.room)

    @property
    def live(self) -> bool:
        """Whether the page connects to the room's socket (not for an archive page)."""
        return self.before is None


def room_view(room: Room, before: int | None = None, reply_to_id: int | None = None,
              form: MessageForm | None = None, standalone: bool = True,
              error: str | None = None) -> RoomView:
    """The latest messages (or those before ``before``) for the current viewer; a
    logged-in viewer's read mark moves to the newest message shown."""
    synced_at = utcnow()
    messages, has_older, mentions = older(room, before)
    viewer = Viewer.of(current_user)
    reply_to = None
    if reply_to_id is not None:
        try:
            candidate = chat.load_message(reply_to_id)
        except ServiceError:
            candidate = None
        if candidate is not None and candidate.room_id == room.id and not candidate.deleted:
            reply_to = candidate
    if form is None:
        form = MessageForm(formdata=None)
        form.reply_to.data = str(reply_to.id) if reply_to else ""
    view = RoomView(room=room, messages=messages,
                    mentions=mentions, has_older=has_older,
                    viewer=viewer, form=form, count=presence.for_app(current_app).count(room.id),
                    synced_at=synced_at, before=before, reply_to=reply_to,
                    standalone=standalone, error=error)
    if viewer.user_id is not None:
        seen = follows.watching(viewer.user_id, room.id, room.coffee_id)
        view.following_room, view.following_coffee = seen.following_room, seen.following_coffee
        view.muted_room, view.muted_coffee = seen.muted_room, seen.muted_coffee
        if messages and before is None:
            _mark_read_after_render(room.id, viewer.user_id, messages[-1].id)
    return view


def _mark_read_after_render(room_id: int, user_id: int, message_id: int) -> None:
    """Move the read mark once the page is rendered: its commit would expire the
    objects the template is about to read."""
    @after_this_request
    def mark(response):
        if response.status_code < 400:
            chat.mark_read(room_id, user_id, message_id)
        return response


def older(room: Room, before: int | None) -> tuple[list[Message], bool, dict[int, set[str]]]:
    """(the page of messages before ``before`` (None: the latest), whether there are
    more before it, their mentions)."""
    page = chat.history(room.id, before_id=before, limit=PAGE_SIZE + 1, check_room=False)
    messages = page[-PAGE_SIZE:]
    return messages, len(page) > PAGE_SIZE, chat.mention_names(messages)
