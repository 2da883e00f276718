"""A worker killed with SIGKILL in the middle of a job: the job is retried and completes,
nothing lost or doubled. Real ``python -m worker`` processes on the real Redis.

The job is notify_message for a room with many followers, stopped at a known point
(tests/jobs.py: notify_message_stalling) before or after its commit. The worker and its
work horse are then killed with SIGKILL (their scheduler, another process, lives on, as
it does when a worker's process is killed; a scheduler killed too holds its lock for
61 s before another worker's takes over). A second worker, with a short maintenance
interval and heartbeat, finds the job abandoned once its heartbeat lapsed, and RQ
retries it (after RETRY_INTERVALS[0]).
"""
import os
import signal
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from rq.job import Job
from sqlalchemy import insert, select

from tests import jobs as test_jobs
from tests.fixtures.jobs import WorkerProcess, gone, queue, rq_app, wait_for  # noqa: F401
from webapp import jobs
from webapp.extensions import db
from webapp.models import Follow, Mention, Message, Notification, User
from webapp.services import chat, notifications

FOLLOWERS = 300
HEARTBEAT, MAINTENANCE = 2, 1  # seconds: a dead worker's job is abandoned after 4 s
FAST = ("--heartbeat", str(HEARTBEAT), "--maintenance-interval", str(MAINTENANCE))
AT = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)  # inside one 5-minute window


def told() -> list[tuple]:
    """Every notification: (user id, kind, key, count, last message id), in order."""
    db.session.expire_all()
    return [tuple(r) for r in db.session.execute(
        select(Notification.user_id, Notification.kind, Notification.key, Notification.count,
               Notification.last_message_id)
        .order_by(Notification.user_id, Notification.key))]


@pytest.fixture
def scene(rq_app):
    """In General: bob's and dee's earlier messages, then ana's reply to bob that mentions
    cyd, with FOLLOWERS followers. Stored directly, so no event enqueues a job of its own.
    Returns the message's id and the rows its notify_message must write, once each."""
    chat.ensure_topic_rooms()
    room = next(r for r in chat.topic_rooms() if r.slug == "general")
    names = ["ana", "bob", "cyd", "dee"] + [f"follower{n}" for n in range(FOLLOWERS)]
    db.session.execute(insert(User), [
        {"username": n, "email": f"{n}@example.com", "password_hash": "x", "display_name": "",
         "bio": "", "role": "user", "session_token": uuid.uuid4().hex} for n in names])
    ids = dict(db.session.execute(select(User.username, User.id)).all())
    db.session.execute(insert(Follow), [{"user_id": ids[n], "room_id": room.id}
                                        for n in names[4:]])
    earlier = {}
    for name in ("bob", "dee"):
        message = Message(room_id=room.id, user_id=ids[name], body="Earlier",
                          created_at=AT - timedelta(hours=1))
        db.session.add(message)
        db.session.flush()
        earlier[name] = message.id
    message = Message(room_id=room.id, user_id=ids["ana"], body="@cyd try this",
                      created_at=AT, reply_to_id=earlier["bob"])
    db.session.add(message)
    db.session.flush()
    db.session.add(Mention(message_id=message.id, user_id=ids["cyd"]))
    db.session.commit()
    window = int(AT.timestamp() // notifications.CHAT_WINDOW_SECONDS)
    chat_key = f"chat:{room.id}:{window}"
    expected = sorted(
        [(ids["cyd"], "mention", f"mention:{message.id}", 1, None),
         (ids["bob"], "reply", f"reply:{message.id}", 1, None)]
        + [(ids[n], "chat", chat_key, 1, message.id) for n in ["dee", *names[4:]]])
    return message.id, expected


@pytest.mark.parametrize("stall", ["before_commit", "after_commit"])
def test_a_worker_killed_mid_job_is_retried_and_tells_everyone_once(
        rq_app, database_url, scene, stall):
    message_id, expected = scene
    key = f"{rq_app.config['REDIS_PREFIX']}stalled"
    queued = jobs.enqueue(test_jobs.notify_message_stalling, message_id, stall, key)
    redis = jobs.connection(rq_app)
    first = WorkerProcess(rq_app, database_url, *FAST)
    second = horse = None
    try:
        horse = int(wait_for(lambda: redis.get(key), 30, "the job did not reach " + stall,
                             first))
        # Mid-job: before the commit nothing is visible yet; after it, everything is,
        # but the job has not finished (its bells not rung, RQ not told).
        assert told() == ([] if stall == "before_commit" else expected)
        assert queued.get_status(refresh=True) == "started"
        os.kill(horse, signal.SIGKILL)
        os.kill(first.pid, signal.SIGKILL)
        first.proc.wait(10)
        wait_for(lambda: gone(horse), 10, "the work horse did not die")
        assert queued.get_status(refresh=True) == "started"  # nobody knows yet

        second = WorkerProcess(rq_app, database_url, *FAST)
        wait_for(lambda: queued.get_status(refresh=True) == "finished", 60,
                 "the killed job was not retried to the end", second)
        assert told() == expected
        queued.refresh()
        # Retried once (found abandoned), and run to the end by the second worker.
        assert queued.retries_left == len(jobs.RETRY_INTERVALS) - 1
        assert "Successfully completed tests.jobs.notify_message_stalling" in second.output()
    finally:
        if horse is not None and not gone(horse):  # the test failed before killing it
            os.kill(horse, signal.SIGKILL)
        for worker in (first, second):
            if worker is not None:
                worker.stop()


def test_notify_message_run_twice_by_a_real_worker_writes_nothing_twice(
        rq_app, database_url, scene):
    message_id, expected = scene
    twice = [jobs.enqueue(notifications.notify_message, message_id) for _ in range(2)]
    worker = WorkerProcess(rq_app, database_url, "--burst")
    try:
        worker.proc.wait(60)
    finally:
        worker.stop()
    assert [j.get_status(refresh=True) for j in twice] == ["finished", "finished"], \
        worker.output()
    assert told() == expected


def test_the_worker_waits_on_the_queue_no_longer_than_its_maintenance_interval(rq_app):
    from worker.__main__ import CremaWorker

    worker = CremaWorker([jobs.queue_name(rq_app)], connection=jobs.connection(rq_app),
                         maintenance_interval=3, job_monitoring_interval=5)
    assert worker.dequeue_timeout == 3
    job = Job.create(print, connection=worker.connection, timeout=180)
    assert worker.get_heartbeat_ttl(job) == 10  # to the next heartbeat, and as long again
    worker.current_job_working_time = 178
    assert worker.get_heartbeat_ttl(job) == 7  # the job is stopped in 2 s
    assert queue(rq_app).count == 0
