"""The bell's socket end to end: real WebSocket clients against running servers.

The live server runs the test app (its broker is the test's: a ring from a job run here
reaches the sockets); the last tests run gunicorn and a real ``python -m worker`` on a
shared Redis, as production does.
"""
import re
import subprocess
import sys
import time

import pytest
import requests
import websocket
from flask import current_app
from rq import SimpleWorker
from sqlalchemy import delete

from tests.fixtures.catalog_caches import _free_port
from tests.fixtures.chat_servers import ROOT, WAIT, ChatSocket, csrf_token, login
from webapp import jobs
from webapp.extensions import db
from webapp.models import Notification, UserSession
from webapp.notifications import live
from webapp.services import chat
from webapp.services import notifications as service

_BELL = re.compile(r'<span id="bell" class="bell"( hx-swap-oob="true")?>(.*?)</span>\s*$', re.S)
_BADGE = re.compile(r'<span class="badge">(\d+)<')


def count(frame: str) -> int:
    """The unread count a bell frame shows (0: no badge)."""
    match = _BADGE.search(frame)
    return int(match.group(1)) if match else 0


class Bell(ChatSocket):
    """One open bell socket and every frame it received, read by a thread."""

    def __init__(self, base_url: str, http: requests.Session | None, **options) -> None:
        url = base_url.replace("http://", "ws://", 1) + "/notifications/ws"
        super().__init__(base_url, None, http, url=url, **options)

    def wait_count(self, expected: int) -> float:
        """Wait for a frame showing ``expected`` unread; returns when it arrived
        (time.monotonic()). :raise AssertionError: none within WAIT seconds."""
        self.wait_for(lambda frame: count(frame) == expected)
        return time.monotonic()


@pytest.fixture
def bells():
    """Factory: ``bells(base_url, http)``; every socket closed after the test."""
    opened: list[Bell] = []

    def factory(base_url: str, http=None, **options) -> Bell:
        bell = Bell(base_url, http, **options)
        opened.append(bell)
        return bell

    yield factory
    for bell in opened:
        bell.close()


@pytest.fixture
def people(make_user):
    return {name: make_user(name).id for name in ("alice", "bob")}


@pytest.fixture
def room(topic_rooms):
    return topic_rooms["general"].id


def mention(room_id: int, author: int, text: str = "@alice have you tried it?") -> int:
    """Post through the service; its notification job runs here (at once without
    Redis, else from the queue by a SimpleWorker), so its ring reaches the live
    server's sockets: the same app and broker."""
    message = chat.post_message(room_id, author, text)
    app = current_app._get_current_object()
    if jobs.connection(app) is not None:
        SimpleWorker([jobs.queue_name(app)], connection=jobs.connection(app)).work(burst=True)
    return message.id


def frame_is_the_bell(frame: str) -> bool:
    match = _BELL.search(frame)
    return bool(match and match.group(1))


def test_the_bell_socket_sends_the_bell_at_once_then_on_every_change(
        live_server, bells, people, room):
    mention(room, people["bob"], "@alice first")
    alice = bells(live_server.url, login(live_server.url, "alice"))
    alice.wait_count(1)  # on open: nothing missed while away
    assert frame_is_the_bell(alice.frames[0])

    mention(room, people["bob"], "@alice second")
    alice.wait_count(2)
    service.mark_read(people["alice"])  # as from another tab
    alice.wait_count(0)
    assert [count(f) for f in alice.frames] == [1, 2, 0]


def test_a_ring_reaches_only_its_users_sockets(live_server, bells, people, room):
    alice = bells(live_server.url, login(live_server.url, "alice"))
    bob = bells(live_server.url, login(live_server.url, "bob"))
    alice.wait_count(0)
    bob.wait_count(0)
    mention(room, people["bob"], "@alice only you")
    alice.wait_count(1)
    mention(room, people["alice"], "@bob now you")
    bob.wait_count(1)
    assert [count(f) for f in bob.frames] == [0, 1]  # alice's ring never reached bob


def test_the_bell_is_rendered_in_the_users_language(live_server, bells, people, room):
    http = login(live_server.url, "alice")
    page = http.get(f"{live_server.url}/settings", timeout=WAIT)
    http.post(f"{live_server.url}/settings", timeout=WAIT, data={
        "display_name": "", "bio": "", "locale": "ru", "csrf_token": csrf_token(page.text)})
    alice = bells(live_server.url, http)
    alice.wait_count(0)
    assert "Уведомления" in alice.frames[0]


def test_a_foreign_origin_is_refused_with_403_before_the_upgrade(live_server, people):
    http = login(live_server.url, "alice")
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        Bell(live_server.url, http, origin="https://evil.example")
    assert refused.value.status_code == 403


def test_a_visitor_gets_401_and_no_socket(live_server, people):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        Bell(live_server.url, None)
    assert refused.value.status_code == 401


def test_a_full_process_answers_503_with_retry_after(app, live_server, people):
    app.config["CHAT_MAX_SOCKETS"] = 0
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        Bell(live_server.url, login(live_server.url, "alice"))
    assert refused.value.status_code == 503
    assert refused.value.resp_headers["retry-after"] == "5"


def test_a_session_ended_elsewhere_closes_the_socket_with_1008_on_the_next_ring(
        live_server, bells, people, room):
    alice = bells(live_server.url, login(live_server.url, "alice"))
    alice.wait_count(0)
    db.session.execute(delete(UserSession).where(UserSession.user_id == people["alice"]))
    db.session.commit()
    mention(room, people["bob"])
    assert alice.wait_closed() == live.POLICY_VIOLATION  # htmx does not reconnect on it
    assert [count(f) for f in alice.frames] == [0]  # nothing sent to a signed-out page


def test_shutdown_closes_bell_sockets_with_1012(app, live_server, bells, people):
    alice = bells(live_server.url, login(live_server.url, "alice"))
    alice.wait_count(0)
    assert live.shutdown(app) == 1
    assert alice.wait_closed() == live.SERVICE_RESTART  # htmx reconnects on it


def test_every_logged_in_page_opens_the_bell_socket_and_a_visitors_none(client, auth, user):
    assert 'ws-connect="/notifications/ws"' not in client.get("/").text
    assert auth.login().status_code == 303
    html = client.get("/").text
    assert re.search(r'<span class="bell-live" hx-ext="ws" ws-connect="/notifications/ws">\s*'
                     r'<span id="bell" class="bell">', html)


# Real processes: gunicorn (gevent) and python -m worker on a shared Redis ---------------

@pytest.fixture
def worker(redis_env, tmp_path):
    """A real ``python -m worker`` on the shared Redis, stopped after the test."""
    log = open(tmp_path / "worker.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "worker"], cwd=ROOT, env=redis_env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    yield process
    process.terminate()
    process.wait(30)
    log.close()


def test_a_mention_lights_the_bell_through_a_real_worker_and_clicks_through(
        redis_env, start_gunicorn, worker, bells, people, room):
    server = start_gunicorn(_free_port(), redis_env)
    alice_http, bob_http = login(server.url, "alice"), login(server.url, "bob")
    alice = bells(server.url, alice_http)
    alice.wait_count(0)

    page = bob_http.get(f"{server.url}/chat/{room}", timeout=WAIT)
    posted_at = time.monotonic()
    answer = bob_http.post(f"{server.url}/chat/{room}/messages", timeout=WAIT,
                           allow_redirects=False,
                           data={"body": "@alice the Guji is back", "csrf_token": csrf_token(page.text)})
    assert answer.status_code == 303, answer.text
    lit_at = alice.wait_count(1)  # the job ran in the worker, the ring crossed Redis
    print(f"message posted -> bell lit: {(lit_at - posted_at) * 1000:.0f} ms")

    notification = db.session.scalars(db.select(Notification)).one()
    assert (notification.user_id, notification.kind) == (people["alice"], "mention")
    opened = alice_http.get(f"{server.url}/notifications/{notification.id}", timeout=WAIT,
                            allow_redirects=False)
    assert opened.status_code == 303
    assert opened.headers["Location"].endswith(
        f"/chat/{room}?before={notification.message_id + 1}#msg-{notification.message_id}")
    alice.wait_count(0)  # opening it marked it read: the bell goes dark
