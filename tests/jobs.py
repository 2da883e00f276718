"""Jobs for the tests of the worker and the jobs page (tests/test_worker.py,
test_worker_reliability.py, test_admin_jobs.py): real functions a worker process
imports by name, as it does Crema's own."""
import os
import time

from webapp.extensions import db
from webapp.jobs import job
from webapp.models import User


@job
def set_bio(user_id: int, bio: str) -> None:
    """Idempotent: the bio is set, however often the job runs."""
    user = db.session.get(User, user_id)
    if user is not None:
        user.bio = bio
        db.session.commit()


@job
def fail(user_id: int) -> None:
    raise RuntimeError(f"this job fails for user {user_id}")


def _stall_here(key: str) -> None:
    """The first time only: write this process's id under ``key`` (the test then knows
    where the job is, and whom to kill) and wait there until killed."""
    from flask import current_app

    from webapp import jobs

    redis = jobs.connection(current_app)
    if redis.set(key, os.getpid(), nx=True):
        while True:
            time.sleep(1)


@job
def notify_message_stalling(message_id: int, stall: str, key: str) -> None:
    """notify_message, which on its first run stops for good at ``stall``:
    "before_commit" (its rows written, not committed) or "after_commit" (committed, the
    job not finished); see _stall_here. A retry goes through."""
    from sqlalchemy import event

    from webapp.services import notifications

    assert stall in ("before_commit", "after_commit")
    event.listen(db.session(), stall, lambda _session: _stall_here(key), once=True)
    notifications.notify_message(message_id)


@job
def fail_without_bio(user_id: int) -> None:
    """Fails until the user has a bio: a failed job an admin can fix, then requeue."""
    user = db.session.get(User, user_id)
    if not user.bio:
        raise RuntimeError(f"user {user_id} has no bio yet")


@job
def deliver_broadcast_telling(broadcast_id: int) -> None:
    """deliver_broadcast, which first writes its process's id (the work horse's) under
    ``<REDIS_PREFIX>horse``, for a test that kills it."""
    from flask import current_app

    from webapp import jobs
    from webapp.services import broadcasts

    jobs.connection(current_app).set(f"{current_app.config['REDIS_PREFIX']}horse", os.getpid())
    broadcasts.deliver_broadcast(broadcast_id)
