"""Background jobs: one way to run work after a commit.

``enqueue(func, *ids)``: with ``REDIS_URL`` the job goes on Crema's RQ queue (its name
under ``REDIS_PREFIX``) with retries and backoff, and ``python -m worker`` runs it;
without Redis it runs here and now, so that ``make run`` does the same work. Callers
enqueue from event subscribers, after the commit (webapp.events).

Jobs take ids, never objects, and must be idempotent: RQ runs a job again after a
failure, or after its worker died in the middle (PITFALLS: RQ 2.x). A job function is
decorated with ``job``, which gives it an app context wherever it runs.
"""
import logging
import math
from datetime import timedelta
from functools import wraps

from flask import current_app, has_app_context
from redis import Redis
from rq import Queue, Retry

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "default"
# Five more tries after a failure, from seconds to half an hour apart (the worker's
# scheduler, --with-scheduler, moves them back onto the queue).
RETRY_INTERVALS = [5, 30, 120, 600, 1800]
_worker_app = None


def job(func):
    """Run ``func`` in an app context: the caller's (tests, the embedded set-up), else
    the worker's app; the database session is removed after it."""
    @wraps(func)
    def run(*args, **kwargs):
        if has_app_context():
            return func(*args, **kwargs)
        from webapp.extensions import db

        with worker_app().app_context():
            try:
                return func(*args, **kwargs)
            finally:
                db.session.remove()
    return run


def worker_app():
    """The app of a worker process, made once (from the environment, as the web's)."""
    global _worker_app
    if _worker_app is None:
        from webapp import create_app

        _worker_app = create_app()
    return _worker_app


def queue_name(app, name: str = DEFAULT_QUEUE) -> str:
    return f"{app.config['REDIS_PREFIX']}{name}"


def connection(app) -> Redis | None:
    """RQ's Redis connection (bytes, no socket timeout: a worker blocks on the queue),
    or None without REDIS_URL."""
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    if "rq_redis" not in app.extensions:
        app.extensions["rq_redis"] = Redis.from_url(url)
    return app.extensions["rq_redis"]


def enqueue_in(seconds: float, func, *args, queue: str = DEFAULT_QUEUE):
    """Run ``func(*args)`` as an RQ job once ``seconds`` have passed (the worker's
    scheduler queues it then), with the same retries as ``enqueue``.

    :raise RuntimeError: without Redis (nothing could run it later).
    """
    app = current_app._get_current_object()
    redis = connection(app)
    if redis is None:
        raise RuntimeError("a job for later needs Redis (REDIS_URL)")
    # RQ schedules to the whole second (rounded down): one more keeps it from running
    # before ``seconds`` have passed.
    return Queue(queue_name(app, queue), connection=redis).enqueue_in(
        timedelta(seconds=math.ceil(seconds) + 1), func, *args,
        retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS))


def enqueue(func, *args, queue: str = DEFAULT_QUEUE, job_id: str | None = None,
            timeout: int | None = None):
    """Run ``func(*args)`` in the background: an RQ job (returned) with Redis, else now,
    in this process (None; a failure is logged, never raised to the caller, whose
    transaction is committed already). ``timeout``: seconds the job may run (RQ's
    default, 180, when None)."""
    app = current_app._get_current_object()
    redis = connection(app)
    if redis is None:
        # An app context of its own: its own database session, since the caller's may
        # be inside its commit (an event subscriber) and can run no more SQL.
        try:
            with app.app_context():
                func(*args)
        except Exception:
            log.exception("job %s%r failed", getattr(func, "__name__", func), args)
        return None
    return Queue(queue_name(app, queue), connection=redis).enqueue(
        func, *args, job_id=job_id, job_timeout=timeout,
        retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS))
