"""Notifications through a real ``python -m worker`` on the real Redis: the chat's
events become jobs on the queue, and the worker applies coalescing, preferences and
mutes exactly as the jobs do in process (tests/test_notifications.py)."""
import subprocess
import sys

from sqlalchemy import select

from tests.fixtures.jobs import ROOT, queue, rq_app  # noqa: F401
from webapp.extensions import db
from webapp.models import Notification
from webapp.services import chat, follows, notification_prefs, notifications
from webapp.services import users as user_service


def work(app, database_url) -> None:
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "DATABASE_URL": database_url,
           "REDIS_URL": app.config["REDIS_URL"], "REDIS_PREFIX": app.config["REDIS_PREFIX"]}
    done = subprocess.run([sys.executable, "-m", "worker", "--burst"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def told() -> list[tuple]:
    db.session.expire_all()
    return [tuple(r) for r in db.session.execute(
        select(Notification.user_id, Notification.kind, Notification.count,
               Notification.in_app).order_by(Notification.user_id, Notification.kind))]


def test_a_real_worker_coalesces_and_applies_preferences_and_mutes(rq_app, database_url):
    people = {name: user_service.register_user(name, f"{name}@example.com",
                                               "correct-horse-battery").id
              for name in ("ana", "bob", "cyd", "dee", "eve")}
    chat.ensure_topic_rooms()
    room = next(r for r in chat.topic_rooms() if r.slug == "general")
    for name in ("bob", "cyd", "dee", "eve"):
        follows.follow(people[name], room_id=room.id)
    follows.mute(people["cyd"], room_id=room.id)           # muted: no chat activity
    notification_prefs.save_prefs(people["dee"], set(), ["in_app", "email"], False)  # all off
    notification_prefs.save_prefs(people["eve"], {("chat", "email"), ("mentions", "in_app")},
                             ["in_app", "email"], False)         # chat by e-mail only

    for n in range(3):
        chat.post_message(room.id, people["ana"], f"Brewing note {n}")
    chat.post_message(room.id, people["ana"], "@cyd you were asked about this")
    assert queue(rq_app).count == 4 and told() == []  # queued, nothing run in the web process

    work(rq_app, database_url)
    assert told() == sorted([
        (people["bob"], "chat", 4, True),     # four messages, one notification, counted
        (people["cyd"], "mention", 1, True),  # muted, but a mention still comes
        (people["eve"], "chat", 4, False),    # kept for e-mail, never shown in the app
    ])
    assert notifications.unread_count(people["eve"]) == 0
    assert queue(rq_app).count == 0

    chat.post_message(room.id, people["ana"], "One more")  # the same 5-minute window
    work(rq_app, database_url)
    assert told()[0] == (people["bob"], "chat", 5, True)
