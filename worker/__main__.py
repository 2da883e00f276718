"""``python -m worker``: an RQ worker, with its scheduler, for Crema's queues.

It uses the app's configuration (the environment and ``.env``, as the web process):
``REDIS_URL`` is required. Each job runs in a forked work horse, inside the app
context (webapp.jobs.job); the database pool inherited from the parent is dropped in the
child, whose connections would otherwise be the parent's. A worker that is not in
``--burst`` mode also puts the next daily digest round on the scheduler (one job id per
day, however many workers do it).
"""
import argparse
import sys

from rq import Worker

from webapp import jobs
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.services import channels


class CremaWorker(Worker):
    """RQ's worker, which finds the job of a dead worker (killed mid-job) in about
    ``WORKER_HEARTBEAT`` twice plus ``WORKER_MAINTENANCE_INTERVAL``.

    A running job's entry in the started registry lives until its next heartbeat (one
    every ``job_monitoring_interval``) and as long again; RQ adds 60 s instead. The next
    maintenance pass after that finds it abandoned and retries it. RQ's idle worker
    waits on the queue for 405 s at a time and only runs a pass between waits: here it
    waits no longer than the maintenance interval.
    """

    def main_work_horse(self, job, queue):
        with jobs.worker_app().app_context():
            db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)

    @property
    def dequeue_timeout(self) -> int:
        return max(1, min(super().dequeue_timeout, self.maintenance_interval))

    def get_heartbeat_ttl(self, job) -> int:
        until_next = self.job_monitoring_interval
        if job.timeout and job.timeout > 0:
            # The work horse is stopped at the job's timeout: no heartbeat after that.
            until_next = min(until_next, max(job.timeout - self.current_job_working_time, 0))
        return int(until_next) + self.job_monitoring_interval


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__.splitlines()[0])
    parser.add_argument("--queues", nargs="+", default=[jobs.DEFAULT_QUEUE],
                        help="queue names, without REDIS_PREFIX (default: default)")
    parser.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    parser.add_argument(
        "--maintenance-interval", type=int,
        help="seconds between passes that requeue the jobs of dead workers "
             "(default: WORKER_MAINTENANCE_INTERVAL, 600)")
    parser.add_argument(
        "--heartbeat", type=int,
        help="seconds between the heartbeats of a running job; a job without one for "
             "twice as long is abandoned (default: WORKER_HEARTBEAT, 30)")
    args = parser.parse_args(argv)
    app = jobs.worker_app()
    redis = jobs.connection(app)
    if redis is None:
        print("python -m worker needs REDIS_URL; without Redis, jobs run in the web "
              "process (webapp.jobs).", file=sys.stderr)
        return 2
    interval = args.maintenance_interval or app.config["WORKER_MAINTENANCE_INTERVAL"]
    heartbeat = args.heartbeat or app.config["WORKER_HEARTBEAT"]
    worker = CremaWorker([jobs.queue_name(app, q) for q in args.queues], connection=redis,
                         maintenance_interval=interval, job_monitoring_interval=heartbeat)
    if not args.burst:
        with app.app_context():
            channels.schedule_digest_round(app, after=utcnow())
    worker.work(with_scheduler=True, burst=args.burst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
