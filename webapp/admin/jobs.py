"""Crema's background jobs as the admins see them (/admin/jobs): how many wait, run and
failed, each failed job with its error, and a way to put one back on the queue.

Read from RQ's registries of the queue named by webapp.jobs.queue_name; without Redis
there is no queue (jobs run in the web process, a failure goes to the log) and the
functions answer None. Reading never cleans a registry up: a page view must not move a
running job to the failed ones (a worker's maintenance pass does that).
"""
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_sqlalchemy.pagination import Pagination
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.results import Result

from webapp import jobs
from webapp.services import NotFound, ServiceError

# RQ's ids: UUIDs, or names given to enqueue(job_id=...) in these characters.
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
NEVER = datetime.min.replace(tzinfo=timezone.utc)
STATUSES = {"queued": _l("queued"), "started": _l("running"), "finished": _l("finished"),
            "scheduled": _l("waiting for a retry"), "deferred": _l("waiting for another job"),
            "stopped": _l("stopped"), "canceled": _l("canceled")}


@dataclass
class FailedJob:
    id: str
    function: str
    args: str          # the ids it was given, as Python writes them
    failed_at: datetime | None
    error: str         # the traceback's last line: the exception and its message
    traceback: str


@dataclass
class Counts:
    queued: int
    started: int
    scheduled: int  # waiting for a retry (or a time)
    failed: int


def _queue() -> Queue | None:
    redis = jobs.connection(current_app)
    return None if redis is None else Queue(jobs.queue_name(current_app), connection=redis)


def counts() -> Counts | None:
    """How many jobs wait, run, wait for a retry and failed; None without Redis."""
    queue = _queue()
    if queue is None:
        return None
    return Counts(queued=queue.count,
                  started=queue.started_job_registry.get_job_count(cleanup=False),
                  scheduled=queue.scheduled_job_registry.get_job_count(cleanup=False),
                  failed=queue.failed_job_registry.get_job_count(cleanup=False))


class FailedPage(Pagination):
    """A page of the failed jobs, newest first (the registry's score is the time of the
    failure plus the same time to live for all of Crema's jobs)."""

    def _query_items(self) -> list[FailedJob]:
        registry = self._query_args["queue"].failed_job_registry
        start = self._query_offset
        ids = registry.get_job_ids(start, start + self.per_page - 1, desc=True, cleanup=False)
        found = [describe(job) for job in Job.fetch_many(ids, connection=registry.connection)
                 if job is not None]
        # The score counts whole seconds: order a second's failures by their own time.
        return sorted(found, key=lambda j: j.failed_at or NEVER, reverse=True)

    def _query_count(self) -> int:
        return self._query_args["queue"].failed_job_registry.get_job_count(cleanup=False)


def failed(page: int, per_page: int) -> FailedPage | None:
    queue = _queue()
    if queue is None:
        return None
    return FailedPage(page=page, per_page=per_page, error_out=False, queue=queue)


def describe(job: Job) -> FailedJob:
    result = job.latest_result()
    trace = (result.exc_string if result is not None and result.type == Result.Type.FAILED
             else job._exc_info) or ""
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    try:
        function, args = job.func_name, ", ".join(repr(a) for a in job.args)
    except Exception:  # its data no longer loads (a function renamed since)
        function, args = "?", "?"
    return FailedJob(id=job.id, function=function, args=args, traceback=trace.strip(),
                     failed_at=job.ended_at or (result.created_at if result else None),
                     error=lines[-1] if lines else "")


def requeue(job_id: str) -> Job:
    """Put a failed job back at the end of the queue.

    :raise NotFound: no such job (or no queue at all, without Redis).
    :raise ServiceError: the job is not among the failed ones (any more).
    """
    queue = _queue()
    if queue is None or not JOB_ID.fullmatch(job_id):
        raise NotFound(_l("No such job."))
    try:
        job = Job.fetch(job_id, connection=queue.connection)
    except NoSuchJobError:
        raise NotFound(_l("No such job.")) from None
    try:
        return queue.failed_job_registry.requeue(job)
    except InvalidJobOperation:
        status = job.get_status()
        raise ServiceError(_l("This job has not failed (it is %(status)s now): nothing was "
                              "requeued.", status=STATUSES.get(status, status or "?"))) from None


def requeue_all() -> int:
    """Put every failed job back on the queue; how many. None failed, or no queue: 0."""
    queue = _queue()
    if queue is None:
        return 0
    registry, done = queue.failed_job_registry, 0
    for job_id in registry.get_job_ids(cleanup=False):
        try:
            registry.requeue(job_id)
            done += 1
        except (InvalidJobOperation, NoSuchJobError):
            pass  # requeued by another admin meanwhile, or expired
    return done
