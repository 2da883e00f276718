"""Background jobs (webapp/jobs.py) and the worker (``python -m worker``): in-process
without Redis; on RQ with Redis, by a SimpleWorker and by a real worker process."""
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from rq import Queue, SimpleWorker

from tests import jobs as test_jobs
from tests.conftest import clean_up, make_app
from tests.fixtures.embedded import embedded_app  # noqa: F401 (this module's app)
from webapp import jobs
from webapp.extensions import db
from webapp.models import User

ROOT = Path(__file__).resolve().parent.parent



def bio(user_id: int) -> str:
    db.session.expire_all()
    return db.session.get(User, user_id).bio


def test_without_redis_a_job_runs_at_once_in_the_process(app, make_user):
    user = make_user("ana")
    assert jobs.enqueue(test_jobs.set_bio, user.id, "Runs here") is None
    assert bio(user.id) == "Runs here"


def test_without_redis_a_failing_job_is_logged_and_the_caller_goes_on(app, make_user, caplog):
    user = make_user("ana")
    assert jobs.enqueue(test_jobs.fail, user.id) is None
    assert "this job fails for user" in caplog.text


@pytest.fixture
def redis_app(database_url, _schema, shared_redis_url):
    app = make_app(database_url, REDIS_URL=shared_redis_url)
    with app.app_context():
        yield app
        queue = Queue(jobs.queue_name(app), connection=jobs.connection(app))
        queue.empty()
        db.session.remove()
    clean_up(app)


def make_ana(app) -> int:
    from webapp.services import users as user_service

    user = user_service.register_user("ana", "ana@example.com", "correct-horse-battery")
    return user.id


def test_with_redis_a_job_goes_on_the_queue_with_retries(redis_app):
    user_id = make_ana(redis_app)
    queued = jobs.enqueue(test_jobs.set_bio, user_id, "Queued")
    assert queued.origin == jobs.queue_name(redis_app)
    assert queued.retries_left == len(jobs.RETRY_INTERVALS) == 5
    assert queued.args == (user_id, "Queued")  # ids, not objects
    assert bio(user_id) == ""  # not run yet

    SimpleWorker([queued.origin], connection=jobs.connection(redis_app)).work(burst=True)
    assert bio(user_id) == "Queued"


def test_a_job_for_later_is_scheduled_past_the_seconds_asked_with_retries(redis_app):
    user_id = make_ana(redis_app)
    before = datetime.now(timezone.utc)
    later = jobs.enqueue_in(2.5, test_jobs.set_bio, user_id, "Later")
    assert later.retries_left == len(jobs.RETRY_INTERVALS)
    registry = Queue(later.origin, connection=jobs.connection(redis_app)).scheduled_job_registry
    assert registry.get_job_ids() == [later.id]
    assert registry.get_scheduled_time(later) >= before + timedelta(seconds=3)
    assert bio(user_id) == ""


def test_a_job_for_later_needs_redis(app):
    with pytest.raises(RuntimeError, match="needs Redis"):
        jobs.enqueue_in(1, test_jobs.set_bio, 1, "never")


def test_a_real_worker_process_runs_the_job_in_a_forked_work_horse(redis_app, database_url):
    user_id = make_ana(redis_app)
    queued = jobs.enqueue(test_jobs.set_bio, user_id, "From the worker")
    env = {**os.environ, "DATABASE_URL": database_url,
           "REDIS_URL": redis_app.config["REDIS_URL"],
           "REDIS_PREFIX": redis_app.config["REDIS_PREFIX"]}
    done = subprocess.run([sys.executable, "-m", "worker", "--burst"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    queued.refresh()
    assert queued.get_status() == "finished", done.stdout + done.stderr
    assert bio(user_id) == "From the worker"


def test_the_worker_needs_redis():
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    done = subprocess.run([sys.executable, "-m", "worker", "--burst"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "python -m worker needs REDIS_URL" in done.stderr


def test_the_procfile_runs_the_worker():
    lines = (ROOT / "Procfile").read_text().splitlines()
    assert "worker: python -m worker" in lines
