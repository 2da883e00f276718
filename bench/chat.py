"""Chat sockets under gunicorn's gevent worker: what one process holds, how fast a message
fans out against a bare flask-sock broadcast, and what a second process adds.

    .venv/bin/python -m bench.chat [--sockets 1000] [--receivers 500] [--messages 30]

1. *Capacity*: one worker; the worker's RSS before and after ``--sockets`` room
   sockets are open (spread over the topic rooms), and page latencies with them open
   against the same pages idle.
2. *Fan-out*: ``--receivers`` sockets in one room; a logged-in socket posts, each
   receiver's delivery is timed from the poster's send. The same with the bare
   broadcast of bench/bare_sock.py, alternating message by message in the same run.
3. *Across processes*: two gunicorns sharing Redis and PostgreSQL; a message posted on
   B, timed to receivers on A and on B.

Parts 1 and 2 run on a fresh SQLite file, part 3 on a fresh PostgreSQL database; each
is migrated (`flask db upgrade`) and seeded (`flask seed`). Redis keys live under a
prefix of this run, deleted at the end. Figures go to BENCHMARKS.md (this section only).
"""
import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import redis
from sqlalchemy import create_engine, text

from bench import chat_clients as clients
from bench import chat_report, harness

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
POSTER, PASSWORD = "lena_brews", "crema-demo-2026"  # webapp/seed.py
PAGE_SAMPLES, PAGE_TIMEOUT = 20, 5.0
DELIVERY_TIMEOUT = 30.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000, help="part 1: sockets held")
    parser.add_argument("--receivers", type=int, default=500, help="part 2: room size")
    parser.add_argument("--messages", type=int, default=60, help="part 2: messages timed")
    parser.add_argument("--per-process", type=int, default=10,
                        help="part 3: receivers on each process")
    parser.add_argument("--cross-messages", type=int, default=50, help="part 3: messages timed")
    parser.add_argument("--parts", default="1,2,3",
                        help="which parts to run; BENCHMARKS.md is written only with all three")
    harness.add_service_arguments(parser)
    return parser.parse_args()


# Data ---------------------------------------------------------------------------------

def fresh_database(url: str) -> str:
    """Empty ``url``, migrate and seed it."""
    harness._reset(url)
    harness._flask(url, "db", "upgrade", quiet=True)
    harness._flask(url, "seed", quiet=True)
    return url


def ids(url: str) -> dict:
    """The topic rooms, each one's last message, a coffee: what the clients ask for."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rooms = conn.scalars(text("SELECT id FROM rooms WHERE kind = 'topic' ORDER BY id")).all()
        last = dict(conn.execute(text("SELECT room_id, max(id) FROM messages GROUP BY room_id")).all())
        coffee = conn.scalar(text("SELECT min(id) FROM coffees"))
    engine.dispose()
    return {"rooms": rooms, "last": {r: last.get(r, 0) for r in rooms}, "coffee": coffee}


def server_settings(args, prefix: str) -> dict:
    return {"REDIS_URL": args.redis, "REDIS_PREFIX": prefix,
            # The flood limit is the service's, not what is measured here.
            "CHAT_POST_LIMIT": "1000000 per second"}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


# 1. Capacity --------------------------------------------------------------------------

async def pages(base: str, coffee: int) -> dict:
    """Sequential GETs of /healthz and a coffee page, each on a new connection; a path
    that does not answer within PAGE_TIMEOUT is not asked again."""
    found = {}
    for path in ("/healthz", f"/coffees/{coffee}"):
        times = []
        for _ in range(PAGE_SAMPLES):
            times.append(await clients.timed_get(base, path, PAGE_TIMEOUT))
            if times[-1] is None:
                break
        answered = [t for t in times if t is not None]
        found[path] = {"median": statistics.median(answered) if answered else None,
                       "max": max(answered) if answered else None,
                       "failed": len(times) - len(answered)}
    return found


def run_capacity(url: str, settings: dict, sockets: int) -> dict:
    with harness.serve(url, 1, settings) as server:
        found = asyncio.run(capacity(server, ids(url), sockets))
    found["worker_connections"] = settings.get("WORKER_CONNECTIONS")
    chat_report.print_capacity(found)
    return found


def answered(found: dict) -> bool:
    return not any(page["failed"] for page in found["loaded"].values())


async def capacity(server: harness.Server, data: dict, sockets: int) -> dict:
    worker, = server.workers()
    rooms = data["rooms"]
    async with clients.session() as http:
        # Warm-up: the first socket starts the hub, the broker's listener, the presence.
        warm = await clients.open_many(3, lambda: clients.open_room(
            http, server.base, rooms[0], data["last"][rooms[0]]))
        await pages(server.base, data["coffee"])
        await clients.close_all(warm)
        await asyncio.sleep(1)
        idle = await pages(server.base, data["coffee"])
        before = rss_kib(worker)
        count = iter(range(sockets))

        def opener():
            room = rooms[next(count) % len(rooms)]
            return clients.open_room(http, server.base, room, data["last"][room])

        start = time.perf_counter()
        held = await clients.open_many(sockets, opener)
        opened = time.perf_counter() - start
        await asyncio.sleep(3)  # presence recounts settle
        after = rss_kib(worker)
        loaded = await pages(server.base, data["coffee"])
        alive = sum(not r.ws.closed for r in held)
        await clients.close_all(held)
    return {"sockets": sockets, "samples": PAGE_SAMPLES, "timeout": PAGE_TIMEOUT, "alive": alive, "opened_s": opened, "rss_before": before,
            "rss_after": after, "idle": idle, "loaded": loaded}


# 2. Fan-out ---------------------------------------------------------------------------

class Room:
    """A poster and its receivers, on Crema or on the bare broadcast."""

    def __init__(self, name: str, poster, receivers, frame, poster_http=None) -> None:
        self.name, self.poster, self.receivers, self.frame = name, poster, receivers, frame
        self.probe = receivers[0].probe
        self.poster_http = poster_http  # the poster's own cookies, closed with the room
        self.pad = 0  # characters a frame is made up to (the bare broadcast's)

    async def send_one(self, n: int) -> dict[str, list[float]]:
        """Post message ``n``; seconds from the send to each receiver's frame, by group."""
        token = uuid.uuid4().hex
        self.probe.start(token, len(self.receivers))
        start = time.perf_counter()
        await self.poster.send(self.frame(n, token, self.pad))
        await asyncio.wait_for(self.probe.done.wait(), DELIVERY_TIMEOUT)
        times = {g: [t - start for t in ts] for g, ts in self.probe.times.items()}
        await asyncio.sleep(0.05)  # the poster's own frames, the server's tail
        return times

    async def close(self) -> None:
        await clients.close_all([self.poster, *self.receivers])
        if self.poster_http is not None:
            await self.poster_http.close()


def crema_frame(n: int, token: str, _pad: int) -> str:
    # A different text each time: the same text within 30 s is refused as a repeat.
    return json.dumps({"type": "post", "body": f"Bench message {n}: {token}", "client_id": token})


async def crema_room(http, base: str, room: int, last_id: int,
                     receivers: dict[str, tuple]) -> Room:
    """``receivers``: group -> (base URL, count), all in ``room``; the poster on ``base``."""
    probe = clients.Probe()
    opened = []
    for group, (where, count) in receivers.items():
        opened += await clients.open_many(count, lambda w=where, g=group: clients.open_room(
            http, w, room, last_id, probe, g))
    poster_http = clients.session()
    await clients.log_in(poster_http, base, POSTER, PASSWORD)
    poster = await clients.open_room(poster_http, base, room, last_id)
    await asyncio.wait_for(poster.synced.wait(), 30)
    await asyncio.sleep(2)  # presence recounts of the joins settle
    return Room("crema", poster, opened, crema_frame, poster_http)


async def bare_room(http, base: str, count: int) -> Room:
    probe = clients.Probe()
    opened = await clients.open_many(count, lambda: clients.open_bare(http, base, probe, "bare"))
    poster = await clients.open_bare(http, base)
    return Room("bare", poster, opened, bare_frame)


def bare_frame(n: int, token: str, pad: int) -> str:
    text_ = f"Bench message {n}: {token} "
    return text_ + "x" * max(0, pad - len(text_))


async def fanout(cremas: dict[str, tuple], bare: harness.Server, receivers: int,
                 messages: int) -> dict:
    """``cremas``: name -> (server, data). Every message goes to one server after the
    other, the order turning by one each time; the bare broadcast's frames are made as
    long as Crema's (a rendered message), measured during the warm-up."""
    async with clients.session() as http:
        rooms = []
        for name, (server, data) in cremas.items():
            room_id = data["rooms"][0]
            room = await crema_room(http, server.base, room_id,
                                    data["last"][room_id], {"crema": (server.base, receivers)})
            room.name = name
            rooms.append(room)
        rooms.append(await bare_room(http, bare.base, receivers))
        try:
            sizes = []
            for n in range(3):  # warm-up
                for r in rooms:
                    await r.send_one(n)
                    if r.name != "bare":
                        sizes.append(r.probe.size)
            rooms[-1].pad = int(statistics.median(sizes))
            found = {r.name: [] for r in rooms}
            for n in range(messages):
                for r in rooms[n % len(rooms):] + rooms[:n % len(rooms)]:
                    group = "bare" if r.name == "bare" else "crema"
                    found[r.name].append((await r.send_one(1000 + n))[group])
        finally:
            for r in rooms:
                await r.close()
    return {"receivers": receivers, "messages": messages, "frame_size": rooms[-1].pad,
            "per_message": found}


# 3. Across processes ------------------------------------------------------------------

async def cross_process(a: harness.Server, b: harness.Server, data: dict, per_process: int,
                        messages: int) -> dict:
    room, last_id = data["rooms"][0], data["last"][data["rooms"][0]]
    async with clients.session() as http:
        pair = await crema_room(http, b.base, room, last_id,
                                {"A": (a.base, per_process), "B": (b.base, per_process)})
        try:
            for n in range(5):  # warm-up
                await pair.send_one(n)
            found = [await pair.send_one(1000 + n) for n in range(messages)]
        finally:
            await pair.close()
    return {"per_process": per_process, "messages": messages,
            "A": [m["A"] for m in found], "B": [m["B"] for m in found]}


# The run ------------------------------------------------------------------------------

def main() -> int:
    args = parse_args()
    parts = {int(p) for p in args.parts.split(",")}
    clients.raise_open_files(max(args.sockets, 2 * args.receivers) + 512)
    RESULTS.mkdir(parents=True, exist_ok=True)
    prefix = f"crema-bench-chat-{uuid.uuid4().hex[:8]}:"
    settings = server_settings(args, prefix)
    results = {"args": args}
    sqlite_url = f"sqlite:///{RESULTS / 'chat.db'}"
    try:
        if parts & {1, 2}:
            fresh_database(sqlite_url)
        if parts & {2, 3}:
            pg_url = fresh_database(harness.pg_database(args.pg_server, "crema_bench_chat"))
        if 1 in parts:
            results["capacity"] = [run_capacity(sqlite_url, settings, args.sockets)]
            if not answered(results["capacity"][0]):
                # The sockets filled the worker's pool: again with room for the pages.
                more = {**settings, "WORKER_CONNECTIONS": str(2 * args.sockets)}
                results["capacity"].append(run_capacity(sqlite_url, more, args.sockets))
        if 2 in parts:
            with harness.serve(sqlite_url, 1, settings) as on_sqlite, \
                    harness.serve(pg_url, 1, settings) as on_pg, \
                    harness.serve(sqlite_url, 1, {}, app="bench.bare_sock:app") as bare:
                results["fanout"] = asyncio.run(fanout(
                    {"Crema, SQLite": (on_sqlite, ids(sqlite_url)),
                     "Crema, PostgreSQL": (on_pg, ids(pg_url))},
                    bare, args.receivers, args.messages))
            chat_report.print_fanout(results["fanout"])
        if 3 in parts:
            with harness.serve(pg_url, 1, settings) as a, harness.serve(pg_url, 1, settings) as b:
                results["cross"] = asyncio.run(cross_process(a, b, ids(pg_url), args.per_process,
                                                             args.cross_messages))
            chat_report.print_cross(results["cross"])
    finally:
        _forget(args.redis, prefix)
    if parts == {1, 2, 3}:
        command = " ".join([".venv/bin/python -m bench.chat", *sys.argv[1:]])
        chat_report.write(Path(args.output), results, command, datetime.now(timezone.utc))
    return 0


def _forget(url: str, prefix: str) -> None:
    """Delete this run's Redis keys (presence, flood counters, versions)."""
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


if __name__ == "__main__":
    sys.exit(main())
