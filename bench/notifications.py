"""Notifications on PostgreSQL and Redis: from a chat message to the bell, one job's
fan-out to a room's followers, and how many notifications one worker writes a second.

    .venv/bin/python -m bench.notifications [--messages 100] [--followers 1000] [--jobs 600]

1. *Latency*: ONE real ``python -m worker``. A message mentioning the target is posted
   through the chat service (after its commit the event enqueues notify_message); the
   clock stops when the target's ``user:<id>`` bell event arrives through the app's
   broker (published after the job's commit, so the row is written by then; checked).
   Baseline, alternating message by message: a bare job that only rings the bell
   (RQ's queue, fork and pub/sub, no database).
2. *Fan-out*: notify_message in process for a room with 10 and with ``--followers``
   followers: SQL statements (fixed, whatever the followers) and time; a new 5-minute
   window (rows inserted) and the same window (counted in place). Baseline: one bare
   multi-row INSERT of the same rows, and the bells alone (ring).
3. *Throughput*: ``--jobs`` messages over many rooms (followers, posters, mentions,
   replies, an hour of chat in 5-minute windows) told by the one worker; baseline: the
   same jobs in this process, one after the other, without RQ.

A fresh PostgreSQL database (migrated) and Redis keys under a prefix of this run,
dropped and deleted at the end. Figures go to BENCHMARKS.md (this section only).
"""
import argparse
import contextlib
import os
import queue
import random
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import event, func, insert, select, text

from bench import harness
from webapp.jobs import job

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Notifications"
LATENCY_TARGET = 1.0  # seconds, p95 from a posted message to the bell
BELL_TIMEOUT = 10.0
READING = (Path(__file__).resolve().parent / "notifications_reading.md").read_text().strip()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100, help="part 1: messages timed")
    parser.add_argument("--followers", type=int, default=1000, help="part 2: the big room")
    parser.add_argument("--rounds", type=int, default=15, help="part 2: jobs timed per case")
    parser.add_argument("--jobs", type=int, default=600, help="part 3: messages told")
    parser.add_argument("--telegram", type=int, default=50,
                        help="part 1b: messages timed to Telegram")
    harness.add_service_arguments(parser)
    return parser.parse_args()


# Data ------------------------------------------------------------------------------

def make_users(names: list[str]) -> dict[str, int]:
    from webapp.extensions import db
    from webapp.models import User

    db.session.execute(insert(User), [
        {"username": n, "email": f"{n}@example.com", "password_hash": "x", "display_name": "",
         "bio": "", "role": "user", "session_token": uuid.uuid4().hex} for n in names])
    db.session.commit()
    return dict(db.session.execute(select(User.username, User.id)
                                   .where(User.username.in_(names))).all())


def make_room(slug: str, followers=()) -> int:
    from webapp.extensions import db
    from webapp.models import Follow, Room

    room = Room(kind="topic", slug=slug, title=slug.title())
    db.session.add(room)
    db.session.flush()
    if followers:
        db.session.execute(insert(Follow), [{"user_id": uid, "room_id": room.id}
                                            for uid in followers])
    db.session.commit()
    return room.id


def store_message(room_id: int, user_id: int, at: datetime, mentions=(),
                  reply_to: int | None = None) -> int:
    """A message stored without its event (no job enqueued): the bench tells it."""
    from webapp.extensions import db
    from webapp.models import Mention, Message

    message = Message(room_id=room_id, user_id=user_id, body=f"Message at {at:%H:%M:%S}",
                      created_at=at, reply_to_id=reply_to)
    db.session.add(message)
    db.session.flush()
    for uid in mentions:
        db.session.add(Mention(message_id=message.id, user_id=uid))
    db.session.commit()
    return message.id


def written() -> tuple[int, int]:
    """(notification rows, notifications written): a chat row counted in place n times
    was written n times."""
    from webapp.extensions import db
    from webapp.models import Notification

    rows, total = db.session.execute(select(func.count(), func.coalesce(
        func.sum(Notification.count), 0))).one()
    return rows, int(total)


def forget_notifications() -> None:
    from webapp.extensions import db

    db.session.execute(text("TRUNCATE notifications, deliveries, telegram_messages"))
    db.session.commit()


# The worker ------------------------------------------------------------------------

@job
def bare_bell(user_id: int) -> None:
    """The baseline job: ring one bell, touch nothing else."""
    from flask import current_app

    current_app.extensions["broker"].publish(f"user:{user_id}", {"type": "bell"})


@contextlib.contextmanager
def one_worker(app, url: str):
    """``python -m worker`` on the bench's database and Redis, stopped on the way out."""
    from tests.fixtures.jobs import WorkerProcess

    worker = WorkerProcess(app, url)
    try:
        yield worker
    finally:
        worker.stop()


# 1. Latency ------------------------------------------------------------------------

def run_latency(app, url: str, messages: int) -> dict:
    from webapp import jobs
    from webapp.extensions import db
    from webapp.models import Notification
    from webapp.services import chat

    ids = make_users(["bench_poster", "bench_target", *(f"bench_f{n}" for n in range(20))])
    room = make_room("bench-latency", [ids[f"bench_f{n}"] for n in range(20)])
    poster, target = ids["bench_poster"], ids["bench_target"]
    bells: queue.SimpleQueue = queue.SimpleQueue()
    sub = app.extensions["broker"].subscribe(f"user:{target}",
                                             lambda _payload: bells.put(time.perf_counter()))
    sub.ready.wait(10)

    from rq import Queue

    q = Queue(jobs.queue_name(app), connection=jobs.connection(app))

    def idle() -> None:
        """Wait for the worker to finish what the last message asked for (its e-mail job),
        so that each job timed finds it idle, and forget any late bell."""
        deadline = time.monotonic() + BELL_TIMEOUT
        while (q.count or q.started_job_registry.get_job_count(cleanup=False)) \
                and time.monotonic() < deadline:
            time.sleep(0.005)
        while not bells.empty():
            bells.get_nowait()

    def post(n: int) -> float:
        idle()
        start = time.perf_counter()
        message = chat.post_message(room, poster, f"@bench_target number {n}, {uuid.uuid4()}")
        arrived = bells.get(timeout=BELL_TIMEOUT)
        db.session.expire_all()
        if db.session.scalar(select(Notification.id).where(
                Notification.user_id == target,
                Notification.key == f"mention:{message.id}")) is None:
            raise RuntimeError(f"the bell rang before the row of message {message.id}")
        return arrived - start

    # By its module's name: run as python -m, this module is __main__, which a worker
    # cannot import.
    from bench.notifications import bare_bell as bell_job

    def bare() -> float:
        idle()
        start = time.perf_counter()
        jobs.enqueue(bell_job, target)
        return bells.get(timeout=BELL_TIMEOUT) - start

    crema, baseline = [], []
    with one_worker(app, url):
        for n in range(5):  # warm-up: the first fork, the first queries
            post(-n - 1)
            bare()
        for n in range(messages):
            crema.append(post(n))
            time.sleep(0.05)
            baseline.append(bare())
            time.sleep(0.05)
    sub.close()
    found = {"crema": crema, "bare": baseline, "messages": messages}
    print(f"[latency] post to bell: p50 {_ms(_pct(crema, 50))} ms, p95 {_ms(_pct(crema, 95))} "
          f"ms, max {_ms(max(crema))} ms; bare job p50 {_ms(_pct(baseline, 50))} ms, p95 "
          f"{_ms(_pct(baseline, 95))} ms", flush=True)
    return found


# 1b. To Telegram -------------------------------------------------------------------

def run_telegram_latency(app, url: str, messages: int) -> list[float]:
    """From a posted message to the fake Bot API receiving the mentioned user's
    notification: the notify job, then the Telegram channel's job, through the outbox.
    Each message mentions another linked user (Telegram takes one message a second per
    chat, which would otherwise be what is measured)."""
    from tests.fixtures.telegram import FakeBotAPI, serving
    from webapp.extensions import db
    from webapp.models import TelegramLink
    from webapp.services import chat

    names = [f"bench_tg{n}" for n in range(messages + 5)]
    ids = make_users(["bench_tg_poster", *names])
    room = make_room("bench-telegram")
    chats = {name: 7_000_000 + n for n, name in enumerate(names)}
    db.session.add_all(TelegramLink(user_id=ids[name], telegram_id=chats[name],
                                    chat_id=chats[name], first_name="B") for name in names)
    db.session.commit()
    with serving(FakeBotAPI()) as api:
        settings = {"TELEGRAM_BOT_TOKEN": "123456:bench",
                    "TELEGRAM_BOT_USERNAME": "crema_bench_bot", "TELEGRAM_API_URL": api.url}
        os.environ.update(settings)  # for the worker
        app.config.update(settings)
        try:
            timings = []
            with one_worker(app, url):
                for n, name in enumerate(names):
                    to = str(chats[name])
                    start = time.monotonic()  # the fake server stamps its calls so
                    chat.post_message(room, ids["bench_tg_poster"],
                                      f"@{name} a cup? {uuid.uuid4()}")
                    call = api.wait_for("sendMessage", timeout=BELL_TIMEOUT, where=lambda c, to=to:
                                        c.status == 200 and str(c.params.get("chat_id")) == to)[0]
                    if n >= 5:  # after the warm-up: the first fork, the first queries
                        timings.append(call.at - start)
                    time.sleep(0.1)
        finally:
            for name in settings:
                os.environ.pop(name, None)
                app.config[name] = None
    print(f"[telegram] post to Telegram: p50 {_ms(_pct(timings, 50))} ms, p95 "
          f"{_ms(_pct(timings, 95))} ms, max {_ms(max(timings))} ms", flush=True)
    return timings


# 2. Fan-out ------------------------------------------------------------------------

def counting():
    """A list whose first item counts the SQL statements run from now on; and a stop."""
    from webapp.extensions import db

    seen = [0]

    def before(*_args):
        seen[0] += 1

    event.listen(db.engine, "before_cursor_execute", before)
    return seen, lambda: event.remove(db.engine, "before_cursor_execute", before)


def timed_job(message_id: int) -> tuple[float, int]:
    from webapp.services import notifications

    seen, stop = counting()
    start = time.perf_counter()
    notifications.notify_message(message_id)
    elapsed = time.perf_counter() - start
    stop()
    return elapsed, seen[0]


def bare_insert(room_id: int, message_id: int, actor: int, user_ids: list[int],
                at: datetime, values_list: bool = False) -> float:
    """The rows a job writes for ``user_ids`` (under a key of their own), in one INSERT
    and its commit: SQLAlchemy's executemany (rows sent as one batched statement), or
    one statement built with all the rows in its VALUES list (``values_list``)."""
    from webapp.extensions import db
    from webapp.models import Notification

    key = f"bench:{uuid.uuid4().hex}"
    rows = [{"user_id": uid, "kind": "chat", "key": key, "count": 1, "last_message_id": message_id,
             "actor_id": actor, "room_id": room_id, "message_id": message_id, "in_app": True,
             "created_at": at, "updated_at": at} for uid in user_ids]
    start = time.perf_counter()
    if values_list:
        db.session.execute(insert(Notification).values(rows))
    else:
        db.session.execute(insert(Notification), rows)
    db.session.commit()
    return time.perf_counter() - start


def run_fanout(app, followers: int, rounds: int) -> list[dict]:
    from webapp.services import notifications

    names = ["bench_fan_poster", *(f"bench_fan{n}" for n in range(followers))]
    ids = make_users(names)
    poster, audience = ids[names[0]], [ids[n] for n in names[1:]]
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    results = []
    for size in (10, followers):
        room = make_room(f"bench-fan-{size}", audience[:size])
        window = start
        for case in ("new window", "same window"):
            times, queries, bare, listed, bells = [], set(), [], [], []
            for n in range(rounds + 2):  # two to warm up
                if case == "new window":
                    window += timedelta(seconds=notifications.CHAT_WINDOW_SECONDS)
                    at = window
                else:
                    at = window + timedelta(seconds=n % 200)
                message = store_message(room, poster, at)
                elapsed, statements = timed_job(message)
                base = bare_insert(room, message, poster, audience[:size], at)
                base_listed = bare_insert(room, message, poster, audience[:size], at, True)
                ring_start = time.perf_counter()
                notifications.ring(audience[:size])
                if n >= 2:
                    times.append(elapsed)
                    queries.add(statements)
                    bare.append(base)
                    listed.append(base_listed)
                    bells.append(time.perf_counter() - ring_start)
            row = {"followers": size, "case": case, "job": statistics.median(times),
                   "queries": sorted(queries), "bare": statistics.median(bare),
                   "listed": statistics.median(listed), "ring": statistics.median(bells)}
            results.append(row)
            print(f"[fan-out] {size} followers, {case}: job {_ms(row['job'])} ms in "
                  f"{'/'.join(map(str, row['queries']))} statements; bare insert "
                  f"{_ms(row['bare'])} ms, as one VALUES list {_ms(row['listed'])} ms; bells "
                  f"{_ms(row['ring'])} ms", flush=True)
    return results


# 3. Throughput ---------------------------------------------------------------------

def build_workload(jobs_wanted: int, seed: int = 7) -> list[int]:
    """Rooms of many sizes, posters and followers, an hour of chat: mentions of known
    people in a fifth of the messages, replies in another fifth. The message ids."""
    from webapp.services import notifications

    rng = random.Random(seed)
    people = make_users([f"bench_p{n}" for n in range(1500)])
    everyone = sorted(people.values())
    rooms = [make_room(f"bench-room-{n}", rng.sample(everyone, rng.choice([5, 20, 60, 150])))
             for n in range(40)]
    talkers = {room: rng.sample(everyone, rng.randint(3, 25)) for room in rooms}
    # From the start of a 5-minute window, so that the same messages coalesce alike.
    window = notifications.CHAT_WINDOW_SECONDS
    later = (datetime.now(timezone.utc) + timedelta(days=2)).timestamp()
    start = datetime.fromtimestamp(later // window * window, timezone.utc)
    earlier: dict[int, list[int]] = {room: [] for room in rooms}
    made = []
    for n in range(jobs_wanted):
        room = rng.choice(rooms)
        author = rng.choice(talkers[room])
        kind = rng.random()
        mentions = rng.sample(everyone, rng.randint(1, 2)) if kind < 0.2 else ()
        reply = rng.choice(earlier[room]) if 0.2 <= kind < 0.4 and earlier[room] else None
        at = start + timedelta(seconds=3600 * n / jobs_wanted)
        message = store_message(room, author, at, [m for m in mentions if m != author], reply)
        earlier[room].append(message)
        made.append(message)
    return made


def run_throughput(app, url: str, message_ids: list[int]) -> dict:
    from rq import Queue, SimpleWorker

    from webapp import jobs
    from webapp.services import notifications

    redis = jobs.connection(app)
    q = Queue(jobs.queue_name(app), connection=redis)
    forget_notifications()  # part 1's
    # In this process, one job after the other; then the channel jobs they asked for.
    start = time.perf_counter()
    for message_id in message_ids:
        notifications.notify_message(message_id)
    SimpleWorker([q], connection=redis).work(burst=True)
    in_process = time.perf_counter() - start
    rows, total = written()
    forget_notifications()
    # The same messages told by one worker.
    from bench.notifications import bare_bell as bell_job  # see run_latency

    with one_worker(app, url):
        by_worker, jobs_run = _drain_queue(q, [jobs.enqueue(notifications.notify_message, m)
                                               for m in message_ids])
        # RQ alone: as many jobs that only ring a bell.
        bare, _ = _drain_queue(q, [jobs.enqueue(bell_job, 1) for _ in message_ids])
    if written() != (rows, total):
        raise RuntimeError(f"the worker wrote {written()}, in process {(rows, total)}")
    found = {"jobs": len(message_ids), "rows": rows, "written": total,
             "worker": by_worker, "in_process": in_process, "bare": bare,
             "jobs_run": jobs_run}
    print(f"[throughput] {len(message_ids)} messages, {rows} notifications ({total} written "
          f"with the counts in place): one worker {total / by_worker:.0f}/s in "
          f"{by_worker:.1f} s, in process {total / in_process:.0f}/s in {in_process:.1f} s; "
          f"as many bare jobs {bare:.1f} s", flush=True)
    return found


def _drain_queue(q, queued: list) -> tuple[float, int]:
    """Seconds from the first of ``queued`` starting to the last job of the queue ending
    (the channel jobs they enqueue included), once the queue is empty; and how many jobs
    ran in that time.

    :raise RuntimeError: a job did not finish, or not within 10 minutes.
    """
    from rq.job import Job

    deadline = time.monotonic() + 600
    while q.count or q.started_job_registry.get_job_count(cleanup=False) or any(
            j.get_status(refresh=True) not in ("finished", "failed") for j in queued[-1:]):
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not empty its queue in 10 minutes")
        time.sleep(0.1)
    for j in queued:
        j.refresh()
    failed = [j.id for j in queued if j.get_status() != "finished"]
    if failed:
        raise RuntimeError(f"{len(failed)} jobs did not finish: {failed[:5]}")
    ids = q.finished_job_registry.get_job_ids(cleanup=False)
    first = min(j.started_at for j in queued)
    ends = [j.ended_at for j in Job.fetch_many(ids, connection=q.connection)
            if j and j.ended_at and j.ended_at >= first]
    return (max(ends) - first).total_seconds(), len(ends)


# Report ----------------------------------------------------------------------------

def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(latency: dict, fanout: list[dict], throughput: dict, args) -> str:
    crema, bare = latency["crema"], latency["bare"]
    p95 = _pct(crema, 95)
    big = [r for r in fanout if r["followers"] == args.followers]
    lines = [
        SECTION,
        "",
        f"Produced by `.venv/bin/python -m bench.notifications` (`make bench`) on "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, on PostgreSQL (a fresh, migrated "
        "database) and Redis, on this project's 2-core machine, which other sessions share.",
        "",
        "### From a posted message to the bell",
        "",
        f"One `python -m worker`. {latency['messages']} messages, one at a time, each mentioning "
        "the target, in a room with 20 followers, posted through the chat service (its commit's "
        "event enqueues `notify_message`); timed until the target's `user:<id>` bell event "
        "arrives through the app's broker (the job publishes it after its commit; each time the "
        "row was checked to be there). Baseline, alternating message by message: a bare job "
        "that only publishes the bell (RQ's queue, the work horse's fork, Redis pub/sub). "
        "Each is sent once the worker is idle (done with the e-mail job the last mention "
        "asked for).",
        "",
        "| | p50 ms | p95 ms | max ms |",
        "| --- | ---: | ---: | ---: |",
        f"| message to bell | {_ms(_pct(crema, 50))} | {_ms(p95)} | {_ms(max(crema))} |",
        f"| bare job to bell | {_ms(_pct(bare, 50))} | {_ms(_pct(bare, 95))} | "
        f"{_ms(max(bare))} |",
        f"| ratio | {_pct(crema, 50) / _pct(bare, 50):.2f} | {p95 / _pct(bare, 95):.2f} | |",
        "",
        f"Target: p95 under {LATENCY_TARGET:.0f} s: "
        + ("met." if p95 < LATENCY_TARGET else "**not met**."),
        "",
        "### From a posted message to Telegram",
        "",
        f"The same worker set-up, {len(latency['telegram'])} messages after 5 to warm up, "
        "each mentioning another user linked to Telegram (Telegram takes one message a second "
        "in one chat); timed from the post until the fake Bot API (tests/fixtures/telegram.py, "
        "on 127.0.0.1) receives the notification: `notify_message`, then the Telegram "
        "channel's `deliver` job, through the outbox and its shared rate limits. The one "
        "worker runs three jobs per message one after another, each in a forked work horse: "
        "`notify_message`, the e-mail channel's (queued first) and Telegram's.",
        "",
        "| | p50 ms | p95 ms | max ms |",
        "| --- | ---: | ---: | ---: |",
        f"| message to Telegram | {_ms(_pct(latency['telegram'], 50))} | "
        f"{_ms(_pct(latency['telegram'], 95))} | {_ms(max(latency['telegram']))} |",
        f"| ratio to message to bell | {_pct(latency['telegram'], 50) / _pct(crema, 50):.2f} | "
        f"{_pct(latency['telegram'], 95) / p95:.2f} | |",
        "",
        "### One job's fan-out",
        "",
        f"`notify_message` in process, for a room with 10 and with {args.followers:,} "
        f"followers, median of {args.rounds} jobs: in a new 5-minute window (a row inserted "
        "per follower) and in the same window (each follower's row counted in place). "
        "*Bare insert*: the same rows and a commit, as SQLAlchemy's executemany (one "
        "batched `INSERT` per 1,000 rows, as the job writes them); *as one VALUES list*: the "
        "same in one statement built with every row in its `VALUES` "
        "(`insert().values(rows)`), for comparison. *Bells*: `ring()` of the same followers "
        "alone, a part of the job.",
        "",
        "| followers | window | SQL statements | job ms | bare insert ms | job / bare "
        "| as one VALUES list ms | bells ms |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in fanout:
        lines.append(f"| {r['followers']:,} | {r['case']} | {'/'.join(map(str, r['queries']))} "
                     f"| {_ms(r['job'])} | {_ms(r['bare'])} | {r['job'] / r['bare']:.2f} | "
                     f"{_ms(r['listed'])} | {_ms(r['ring'])} |")
    fixed = len({tuple(r["queries"]) for r in fanout}) == 1
    lines += [
        "",
        "The statements are " + ("the same" if fixed else "**not** the same") +
        f" for 10 and {args.followers:,} followers: the recipients are read in one query "
        "and written in one batched statement (one per 1,000 rows). "
        + (f"With {args.followers:,} followers (new window) the job takes "
           f"{big[0]['job'] / big[0]['bare']:.2f} times the bare insert of its rows."
           if big else ""),
        "",
        "### Notifications written per second",
        "",
        f"{throughput['jobs']} messages over 40 rooms (5 to 150 followers each, 3 to 25 "
        "posters), an hour of chat in 5-minute windows, a fifth with one or two mentions and "
        "another fifth replies; the jobs they make for the channels run too. "
        f"{throughput['rows']:,} notifications, written {throughput['written']:,} times "
        "(a room's row counted in place once per message). One worker: from its first job's "
        f"start to its last job's end ({throughput['jobs_run']} jobs, the channels' "
        "included). Baseline: the same jobs in one process, one after the other, without "
        "RQ (no queue, no fork per job).",
        "",
        "| | seconds | notifications written / s | messages (or bare jobs) / s | written / s, "
        "ratio to in process |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    t = throughput
    for name, seconds in (("one worker", t["worker"]), ("in process", t["in_process"])):
        lines.append(f"| {name} | {seconds:.1f} | {t['written'] / seconds:.0f} | "
                     f"{t['jobs'] / seconds:.0f} | {t['in_process'] / seconds:.2f} |")
    lines += [
        f"| one worker, {t['jobs']} bare jobs (ring a bell, no SQL) | {t['bare']:.1f} | - | "
        f"{t['jobs'] / t['bare']:.0f} | - |",
        "",
        READING,
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    args = parse_args()
    from tests.conftest import make_app, scratch_postgres_database, upgrade_database

    os.environ["CHAT_POST_LIMIT"] = "1000000 per second"  # the flood limit is not measured
    with scratch_postgres_database(args.pg_server) as url:
        app = make_app(url, REDIS_URL=args.redis)
        upgrade_database(app)
        try:
            with app.app_context():
                latency = run_latency(app, url, args.messages)
                latency["telegram"] = run_telegram_latency(app, url, args.telegram)
                throughput = run_throughput(app, url, build_workload(args.jobs))
                fanout = run_fanout(app, args.followers, args.rounds)
        finally:
            cleanup(app)
    path = Path(args.output)
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    section = report(latency, fanout, throughput, args)
    path.write_text(harness.replace_section(old, SECTION, section))
    print(f"wrote {path}")
    return 0


def cleanup(app) -> None:
    from tests.conftest import clean_up
    from tests.fixtures.jobs import forget_jobs

    try:
        forget_jobs(app)
    finally:
        clean_up(app)


if __name__ == "__main__":
    sys.exit(main())
