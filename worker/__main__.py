"""``python -m worker``: an RQ worker, with its scheduler, for Crema's queues.

It uses the app's configuration (the environment and ``.env``, as the web process):
``REDIS_URL`` is required. Each job runs in a forked work horse, inside the app
context (webapp.jobs.job); the database pool inherited from the parent is dropped in the
child, whose connections would otherwise be the parent's.
"""
import argparse
import sys

from rq import Worker

from webapp import jobs
from webapp.extensions import db


class CremaWorker(Worker):
    def main_work_horse(self, job, queue):
        with jobs.worker_app().app_context():
            db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__.splitlines()[0])
    parser.add_argument("--queues", nargs="+", default=[jobs.DEFAULT_QUEUE],
                        help="queue names, without REDIS_PREFIX (default: default)")
    parser.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    parser.add_argument(
        "--maintenance-interval", type=int,
        help="seconds between passes that requeue the jobs of dead workers "
             "(default: WORKER_MAINTENANCE_INTERVAL, 600)")
    args = parser.parse_args(argv)
    app = jobs.worker_app()
    redis = jobs.connection(app)
    if redis is None:
        print("python -m worker needs REDIS_URL; without Redis, jobs run in the web "
              "process (webapp.jobs).", file=sys.stderr)
        return 2
    interval = args.maintenance_interval or app.config["WORKER_MAINTENANCE_INTERVAL"]
    worker = CremaWorker([jobs.queue_name(app, q) for q in args.queues], connection=redis,
                         maintenance_interval=interval)
    worker.work(with_scheduler=True, burst=args.burst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
