"""The bell, live: a small socket per logged-in page that says when the count changes.

The header holds ``<span hx-ext="ws" ws-connect="/notifications/ws">`` around the bell.
Its socket subscribes to the user's broker channel ``user:<id>``, where the notification
jobs ring (webapp.services.notifications.ring) after their commit, from whichever
process ran them. On each ring the socket reads the unread count from the database and
sends the bell again, marked ``hx-swap-oob`` (htmx's WebSocket extension swaps it in by
id). Rings that come while one is being answered fold into one answer.

Nothing is missed across a reconnect: the socket sends the current bell as soon as it
opens, and again when the broker's subscription comes back after a gap (pub/sub is
at-most-once). The session is checked on every ring: signed out, the socket closes
with 1008 ("policy violation"), which htmx does not reconnect. A server going down
closes it with 1012, which htmx does reconnect (see webapp.chat.hub.shutdown).
"""
import logging
import threading

from flask import Response, abort, current_app, render_template, request
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from simple_websocket import ConnectionClosed

from webapp.chat.live import WholeFrames
from webapp.extensions import db, sock
from webapp.notifications import bp
from webapp.services import sessions as session_service
from webapp.services.notifications import unread_count

log = logging.getLogger(__name__)

POLICY_VIOLATION = 1008
SERVICE_RESTART = 1012
# Seconds between session checks while nothing rings (a sign-out elsewhere ends the
# session without ringing).
CHECK_SECONDS = 60.0


class Bells:
    """The bell sockets of one web process, to count them and to close them on stop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: set["BellSocket"] = set()
        self._closing = False

    def add(self, bell: "BellSocket") -> bool:
        with self._lock:
            if self._closing:
                return False
            self._sockets.add(bell)
            return True

    def discard(self, bell: "BellSocket") -> None:
        with self._lock:
            self._sockets.discard(bell)

    def size(self) -> int:
        with self._lock:
            return len(self._sockets)

    def shutdown(self) -> int:
        """Close every bell socket with 1012 (they reconnect elsewhere); how many."""
        with self._lock:
            self._closing = True
            bells = list(self._sockets)
        for bell in bells:
            bell.stop(SERVICE_RESTART, "Server restarting")
        return len(bells)


def bells(app) -> Bells:
    found = app.extensions.get("bells")
    if found is None:
        found = app.extensions.setdefault("bells", Bells())
    return found


def shutdown(app) -> int:
    """Close this process's bell sockets with 1012 (a no-op when none was opened)."""
    found = app.extensions.get("bells")
    return found.shutdown() if found is not None else 0


def open_sockets(app) -> int:
    """The live sockets this process holds: chat rooms and bells (one cap for both)."""
    from webapp.chat.hub import get_hub

    return get_hub(app).size() + bells(app).size()


@bp.before_app_request
def check_handshake():
    """Before the bell's socket upgrades: a logged-in user (else 401), on a page of
    ours (else 403: cross-site WebSocket hijacking), and room for one more socket in
    this process (else 503; the page tries again later)."""
    if request.endpoint != "notifications.socket":
        return
    if request.headers.get("Origin") != request.host_url.rstrip("/"):
        abort(403, description=_("This connection must come from a Crema page."))
    if not current_user.is_authenticated:
        abort(401)
    app = current_app._get_current_object()
    if open_sockets(app) >= app.config["CHAT_MAX_SOCKETS"]:
        abort(Response(_("Too many open conversations here. Trying again shortly."), 503,
                       {"Retry-After": "5"}))


@sock.route("/notifications/ws", bp=bp)
def socket(ws):
    """The bell's socket (see the module); check_handshake ran first."""
    bell = BellSocket(ws, current_user.id, current_user.login_token)
    db.session.remove()
    bell.run()


class BellSocket:
    def __init__(self, ws, user_id: int, token: str) -> None:
        ws.sock = WholeFrames(ws.sock)
        self.ws, self.user_id, self.token = ws, user_id, token
        self.app = current_app._get_current_object()
        self.url_root, self.locale = request.url_root, str(get_locale())
        self._wake = threading.Event()
        self._stop: tuple[int, str] | None = None
        self._gone = False
        self._send_lock = threading.Lock()

    def run(self) -> None:
        registry = bells(self.app)
        if not registry.add(self):
            self._close(SERVICE_RESTART, "Server restarting")
            return
        subscription = None
        try:
            subscription = self.app.extensions["broker"].subscribe(
                f"user:{self.user_id}", self._ring, on_reconnect=self._ring)
            threading.Thread(target=self._read, name="bell-reader", daemon=True).start()
            self._wake.set()  # the bell as it is now: nothing missed while away
            while True:
                rang = self._wake.wait(CHECK_SECONDS)
                self._wake.clear()
                if self._gone:
                    break
                if self._stop is not None:
                    self._close(*self._stop)
                    break
                if not self._answer(rang):
                    break
        except ConnectionClosed:
            pass
        finally:
            if subscription is not None:
                subscription.close()
            registry.discard(self)

    def stop(self, code: int, reason: str) -> None:
        self._stop = (code, reason)
        self._wake.set()

    def _ring(self, *_) -> None:
        """From the broker's thread (a ring, or the subscription back after a gap)."""
        self._wake.set()

    def _read(self) -> None:
        """The client sends nothing; reading notices when it goes."""
        try:
            while True:
                self.ws.receive()
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("bell: reader of user %s failed", self.user_id)
        self._gone = True
        self._wake.set()

    def _answer(self, rang: bool) -> bool:
        """Send the bell if it rang; False when the session has ended (socket closed)."""
        try:
            with self.app.test_request_context(base_url=self.url_root), \
                    force_locale(self.locale):
                row = session_service.find_session(self.token)
                if row is None or row.user_id != self.user_id:
                    self._close(POLICY_VIOLATION, "Signed out")
                    return False
                if rang:
                    self._send(render_template("notifications/_bell.html", oob=True,
                                               unread=unread_count(self.user_id)))
        except ConnectionClosed:
            raise
        except Exception:  # the database away: the next ring tries again
            log.exception("bell: the bell of user %s not sent", self.user_id)
        return True

    def _send(self, html: str) -> None:
        with self._send_lock:
            try:
                self.ws.send(html)
            except OSError as exc:  # cut off (WholeFrames), or the peer is gone
                raise ConnectionClosed() from exc

    def _close(self, code: int, reason: str) -> None:
        try:
            with self._send_lock:
                self.ws.close(reason=code, message=reason)
        except ConnectionClosed:
            pass
