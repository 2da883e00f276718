"""One chat socket, from the handshake to its close.

Two loops per socket: a reader (its own greenlet or thread) that only receives frames
and queues them, and the handler's own loop that takes, in order, what the reader and
the hub (webapp.chat.hub) queued. The room's fan-out sends a live event itself when the
socket has nothing queued and is not busy (``offer``), else queues it: one turn at a
time (``_turn``), so the order stays the publish order. The database session is
released after each item, never held while waiting.

Nothing is lost or doubled on (re)connect: the hub subscribes the socket to its room
first; the client then says where it is (``{"type": "resume", "last_id", "synced_at"}``,
sent by static/js/chat.js on every open); the socket sends from the database what came
after ``last_id`` (and what was edited or deleted since ``synced_at``), then the live
events it held meanwhile, skipping ids it already sent. A client that says nothing
within ``RESUME_WAIT`` seconds is streamed what comes after the moment it connected.

Frames the client may send (JSON objects, as htmx's ``ws-send`` makes them):
``resume``; ``post`` (``body``, ``reply_to``, ``client_id``, ``room_id``);
``edit`` (``message_id``, ``body``); ``delete`` (``message_id``). Anything else, and
any refusal, answers this client alone with an error shown under its composer; the
socket stays open.
"""
import json
import logging
import queue
import select
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app, has_request_context, render_template, request
from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l
from gevent import monkey as gevent_monkey
from gevent.socket import wait_write as _gevent_wait_write
from simple_websocket import ConnectionClosed

from webapp.chat.hub import Close, LiveEvent, Member, Resync
from webapp.errors.handlers import MESSAGES
from webapp.extensions import db
from webapp.forms import ID_MAX
from webapp.models.base import utcnow
from webapp.services import ServiceError, chat
from webapp.services import sessions as session_service
from webapp.services.chat import CLIENT_ID_MAX

log = logging.getLogger(__name__)
_real_poll = gevent_monkey.get_original("select", "poll")

UNEXPECTED = MESSAGES[500]
RESUME_WAIT = 2.0
CATCH_UP_MAX = 200
# A client that takes no byte of a frame for this long is cut off (see WholeFrames).
STALL_SECONDS = 10.0
# Edits and deletes are replayed from a little before the client's last sync: a
# change committed just before that moment may have been published just after it.
SYNC_MARGIN = timedelta(seconds=5)


class _Gone:
    """The reader saw the connection close."""


class FrameError(Exception):
    """A frame this socket refuses; the message is for its client."""


def _writable(sock, timeout: float) -> bool:
    """Whether ``sock`` takes bytes within ``timeout`` seconds. poll(), never select(),
    which cannot watch a descriptor past 1023 (a process holding a thousand sockets has
    them); under gevent a wait yields to the other greenlets."""
    poller = _real_poll()
    poller.register(sock.fileno(), select.POLLOUT)
    if poller.poll(0):
        return True
    if not timeout:
        return False
    if _gevent_active():
        try:
            _gevent_wait_write(sock.fileno(), timeout=timeout)
        except OSError:  # socket.timeout
            return False
        return True
    return bool(poller.poll(timeout * 1000))


def _gevent_active() -> bool:
    return gevent_monkey.is_module_patched("socket")


class _WouldWait(Exception):
    """A send that must not wait found the client's buffer full; nothing was sent."""


class WholeFrames:
    """The connection's socket as simple-websocket uses it, sending each frame whole.

    simple-websocket 1.1.0 writes a frame with one ``socket.send()``, which under gevent
    takes only what fits in the buffer when the client reads slowly: the rest of the
    frame was lost, the stream corrupt, and a catch-up larger than the buffer failed
    again on every reconnect (simple-websocket #45). Its own thread also sends (pings,
    pongs, the close), so every send takes one lock. A client that takes nothing for
    STALL_SECONDS is cut off (the ping check would only notice much later), so that a
    send never waits on it for longer, whether from its own loop or the room's fan-out.
    """

    def __init__(self, sock) -> None:
        self._sock = sock
        # The operating system's socket: gevent's own send would wait on a full buffer.
        self._raw = getattr(sock, "_sock", sock)
        self._lock = threading.Lock()
        self._no_wait: set[int] = set()  # threads (greenlets) that must not wait here

    def send(self, data, flags: int = 0) -> int:
        """Each try takes what fits without waiting (one system call when it all fits);
        a full buffer is waited on, for STALL_SECONDS at most.

        :raise _WouldWait: from a thread in ``no_wait``, when the client's buffer is
            full before the frame's first byte (the room's fan-out then queues it).
        """
        no_wait = bool(self._no_wait) and threading.get_ident() in self._no_wait
        with self._lock:
            rest = memoryview(data)
            while rest:
                try:
                    rest = rest[self._raw.send(rest, flags | socket.MSG_DONTWAIT):]
                except BlockingIOError:
                    pass
                if not rest:
                    break
                if no_wait and len(rest) == len(data):
                    raise _WouldWait()
                no_wait = False  # a frame begun is finished, or cut off
                if not _writable(self._sock, STALL_SECONDS):
                    self._sock.shutdown(socket.SHUT_RDWR)
                    raise BrokenPipeError("the client stopped reading")
        return len(data)

    def __getattr__(self, name):
        return getattr(self._sock, name)


@dataclass
class Viewer:
    """Who is at the other end, as the handshake found them (re-checked per action)."""
    user_id: int | None = None
    token: str | None = None
    is_mod: bool = False
    may_post: bool = False

    @classmethod
    def of(cls, user) -> "Viewer":
        if not user.is_authenticated:
            return cls()
        return cls(user.id, user.login_token, user.is_moderator, True)

    def variant(self, message) -> tuple:
        """What a render of ``message`` depends on for this viewer."""
        return (self.may_post, self.user_id == message.user_id, self.is_mod)


class LiveSocket:
    def __init__(self, ws, room_id: int, viewer: Viewer, hub) -> None:
        self.ws, self.room_id, self.viewer, self.hub = ws, room_id, viewer, hub
        ws.sock = WholeFrames(ws.sock)
        self.locale = str(get_locale())
        self.app, self.url_root = current_app._get_current_object(), request.url_root
        self.member = Member(room_id, f"u{viewer.user_id}" if viewer.user_id else None)
        self.member.offer = self.offer
        self._turn = threading.Lock()  # held while handling an item or sending an offer
        self.sent: set[int] = set()
        self.last_id = 0
        self.synced_at: datetime | None = None  # when the client was last caught up
        self.positioned = False
        self.held: list[LiveEvent] = []
        self._send_lock = threading.Lock()

    # The loop ---------------------------------------------------------------------

    def run(self) -> None:
        if not self.hub.join(self.member):
            self._close(Close(1012, "Server restarting"))
            return
        try:
            # Subscribed already: whatever is newer than this reaches the queue too.
            self.start_id = chat.latest_id(self.room_id)
            db.session.remove()
            threading.Thread(target=self._read, name="chat-reader", daemon=True).start()
            deadline = time.monotonic() + RESUME_WAIT
            while True:
                queued = True
                try:
                    item = self.member.queue.get(
                        timeout=None if self.positioned else max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    item, queued = ("resume", self.start_id, None), False
                try:
                    with self._turn:
                        if self._handle(item) is False:
                            break
                except ConnectionClosed:
                    raise
                except Exception:  # e.g. the database away while catching up: go on
                    log.exception("chat: socket of room %s failed on %r", self.room_id, item)
                    db.session.rollback()
                finally:
                    if queued:
                        self.member.done()
                    db.session.remove()
        except ConnectionClosed:
            pass
        finally:
            self.hub.leave(self.member)
            self._mark_read()

    def _read(self) -> None:
        try:
            while True:
                self.member.push(("frame", self.ws.receive()))
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("chat: reader of room %s failed", self.room_id)
        self.member.push(_Gone())

    def _handle(self, item) -> bool | None:
        if isinstance(item, _Gone):
            return False
        if isinstance(item, Close):
            self._close(item)
            return False
        if isinstance(item, Resync):
            if self.positioned:
                self._catch_up(self.last_id, self.synced_at)
        elif isinstance(item, LiveEvent):
            if not self.positioned and item.kind != "presence":
                self.held.append(item)
            else:
                self._deliver(item)
        elif item[0] == "resume":
            self._position(item[1], item[2])
        elif item[0] == "frame":
            self._frame(item[1])
        return None

    def offer(self, event: LiveEvent) -> None:
        """From the room's fan-out: send ``event`` now if nothing is queued for this
        socket and it is not busy; otherwise queue it, behind what is waiting."""
        if not self._turn.acquire(blocking=False):
            self.member.push(event)
            return
        try:
            if self.member.pending or not self.positioned:
                self.member.push(event)
                return
            # A slow client must not hold up the room: its sends give up at once.
            no_wait, ident = self.ws.sock._no_wait, threading.get_ident()
            no_wait.add(ident)
            try:
                self._deliver(event)
            finally:
                no_wait.discard(ident)
        except _WouldWait:
            self.member.push(event)  # its own loop waits for it
        except ConnectionClosed:
            pass  # the reader sees it too and ends the socket
        finally:
            self._turn.release()

    def _in_context(self, make):
        """``make()`` inside a request context: the socket's own, or (from the room's
        fan-out) one like it, in the socket's language."""
        if has_request_context():
            return make()
        # Its end (the app context's teardown) removes the database session it used.
        with self.app.test_request_context(base_url=self.url_root), force_locale(self.locale):
            return make()

    # Sending ----------------------------------------------------------------------

    def send(self, html: str) -> None:
        if html:
            with self._send_lock:
                try:
                    self.ws.send(html)
                except OSError as exc:  # cut off (WholeFrames), or the peer is gone
                    raise ConnectionClosed() from exc

    def _close(self, item: Close) -> None:
        try:
            with self._send_lock:
                self.ws.close(reason=item.code, message=item.reason)
        except ConnectionClosed:
            pass

    def _position(self, last_id: int, synced_at: datetime | None) -> None:
        """Catch the client up from ``last_id``, then send what was held meanwhile."""
        self._catch_up(last_id, synced_at)
        self.positioned = True
        held, self.held = self.held, []
        for event in held:
            self._deliver(event)

    def _catch_up(self, after_id: int, synced_at: datetime | None) -> None:
        started = utcnow()
        self.last_id = max(self.last_id, after_id)
        missed = chat.since(self.room_id, after_id, limit=CATCH_UP_MAX + 1)
        if len(missed) > CATCH_UP_MAX:  # too far behind: start again from the latest
            messages = chat.history(self.room_id)
            self.send(self._render_list(messages, replace=True))
            self._sent(messages)
        else:
            new = [m for m in missed if m.id not in self.sent]
            changed = []
            if synced_at is not None:
                changed = [m for m in chat.changed_since(self.room_id, after_id,
                                                         synced_at - SYNC_MARGIN)
                           if m.id not in self.sent]
            self.send(self._render_list(new) + self._render_changed(changed))
            self._sent(new)
        self.synced_at = started
        self.send(render_template("chat/_sync.html", room_id=self.room_id, synced_at=started,
                                  oob=True))

    def _sent(self, messages) -> None:
        for m in messages:
            self.sent.add(m.id)
            if m.id > self.last_id:
                self.last_id = m.id

    def _deliver(self, event: LiveEvent) -> None:
        if event.kind == "presence":
            self.send(event.once(("presence", self.locale), lambda: self._in_context(
                lambda: render_template("chat/_presence.html", room_id=self.room_id,
                                        count=event.count, oob=True))))
            return
        if event.kind == "message" and event.message_id in self.sent:
            return
        loaded = event.once("message", lambda: self._in_context(lambda: _load(event.message_id)))
        if loaded is None:
            return
        message, mentioned = loaded
        key = (self.locale, event.kind, self.viewer.variant(message))
        html = event.once(key, lambda: self._in_context(
            lambda: self._render_one(event.kind, message, mentioned)))
        self.send(html)
        if event.kind == "message":
            self._sent([message])

    def _render_one(self, kind: str, message, mentioned) -> str:
        names = {message.id: mentioned}
        if kind == "message":
            return self._render_list([message], names=names)
        return self._render_changed([message], names=names)

    def _render_list(self, messages, replace: bool = False, names=None) -> str:
        if not messages and not replace:
            return ""
        if names is None:
            names = chat.mention_names(messages)
        return render_template("chat/_live_messages.html", room_id=self.room_id,
                               messages=messages, mentions=names, viewer=self.viewer,
                               replace=replace)

    def _render_changed(self, messages, names=None) -> str:
        if not messages:
            return ""
        if names is None:
            names = chat.mention_names(messages)
        return "".join(render_template("chat/_message.html", m=m, mentions=names,
                                       viewer=self.viewer, oob=True) for m in messages)

    # Frames from the client -----------------------------------------------------------

    def _frame(self, data) -> None:
        client_id = None
        try:
            payload = _parse(data)
            client_id = _client_id(payload)
            kind = payload.get("type")
            if kind == "resume":
                self._position(_int(payload, "last_id", required=True),
                               _time(payload.get("synced_at")))
                return
            if kind not in ("post", "edit", "delete"):
                raise FrameError(_l("Crema did not understand that request."))
            self._check_room(payload)
            self._check_viewer()
            if kind in ("post", "edit"):
                body = payload.get("body")
                if not isinstance(body, str):
                    raise FrameError(_l("Write a message."))
            if kind == "post":
                chat.post_message(self.room_id, self.viewer.user_id, body,
                                  reply_to_id=_int(payload, "reply_to"), client_id=client_id,
                                  load=False)
            else:
                message_id = _int(payload, "message_id", required=True)
                self._own_room(message_id)
                if kind == "edit":
                    chat.edit_message(message_id, self.viewer.user_id, body)
                else:
                    chat.delete_message(message_id, self.viewer.user_id)
        except (FrameError, ServiceError) as err:
            db.session.rollback()
            message = err.message if isinstance(err, ServiceError) else err.args[0]
            self.send(self._status(error=str(message), client_id=client_id))
            return
        except ConnectionClosed:
            raise
        except Exception:  # the database away, a bug: say so, keep the socket open
            log.exception("chat: a frame on room %s failed", self.room_id)
            db.session.rollback()
            self.send(self._status(error=str(UNEXPECTED), client_id=client_id))
            return
        self.send(self._status(client_id=client_id))

    def _status(self, error: str | None = None, client_id: str | None = None) -> str:
        return render_template("chat/_status.html", room_id=self.room_id, error=error,
                               client_id=client_id, oob=True)

    def _check_room(self, payload: dict) -> None:
        room = payload.get("room_id")
        if room is not None and str(room) != str(self.room_id):
            raise FrameError(_l("This conversation is not the one you are connected to. "
                                "Reload the page."))

    def _own_room(self, message_id: int) -> None:
        if chat.load_message(message_id).room_id != self.room_id:
            raise FrameError(_l("This conversation is not the one you are connected to. "
                                "Reload the page."))

    def _check_viewer(self) -> None:
        """The viewer's session must still be live: signed out, expired or ended
        elsewhere, the socket can still read but no longer post."""
        if self.viewer.token is None:
            raise FrameError(_l("Log in to post."))
        row = session_service.find_session(self.viewer.token)
        if row is None or not chat.may_post(row.user_id):
            self.viewer.may_post = False
            raise FrameError(_l("Your session has ended. Log in again to post."))
        self.viewer.is_mod = row.user.is_moderator
        if session_service.needs_touch(row):
            session_service.touch(row.id)

    def _mark_read(self) -> None:
        if self.viewer.user_id is None or not self.last_id or not self.viewer.may_post:
            return
        try:
            chat.mark_read(self.room_id, self.viewer.user_id, self.last_id)
        except Exception as exc:  # the socket is gone; the mark is a nicety
            log.warning("chat: read mark of room %s not saved (%s)", self.room_id, exc)
        finally:
            db.session.remove()


def _load(message_id: int):
    try:
        message = chat.load_message(message_id)
    except ServiceError:
        return None
    return message, chat.mention_names([message]).get(message_id, set())


def _parse(data) -> dict:
    if not isinstance(data, str):
        raise FrameError(_l("Crema did not understand that request."))
    if len(data) > FRAME_MAX:
        raise FrameError(_l("That is too long to send."))
    try:
        payload = json.loads(data)
    except ValueError:
        raise FrameError(_l("Crema did not understand that request.")) from None
    if not isinstance(payload, dict):
        raise FrameError(_l("Crema did not understand that request."))
    return payload


FRAME_MAX = 16 * 1024


def _int(payload: dict, name: str, required: bool = False) -> int | None:
    value = payload.get(name)
    if value in (None, "") and not required:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= ID_MAX:
        raise FrameError(_l("Crema did not understand that request."))
    return value


def _client_id(payload: dict) -> str | None:
    value = payload.get("client_id")
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > CLIENT_ID_MAX:
        raise FrameError(_l("Crema did not understand that request."))
    return value


def _time(value) -> datetime | None:
    if not value or not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
