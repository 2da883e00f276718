"""Broker latency: publish -> callback across two RedisBrokers (two "processes" on one
Redis) against an in-process MemoryBroker, in the same run, as ratios.

    .venv/bin/python -m bench.broker [--redis-url URL] [--messages 2000]

Without --redis-url (or REDIS_URL) a private redis-server is started on a free port.
Messages go one at a time (publish, wait for the callback), so each figure is one
message's trip, not a throughput. Prints a markdown table. Not part of `make bench` yet.
"""
import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import threading
import time
import uuid

import redis

from webapp.broker import MemoryBroker, RedisBroker


def measure(publisher, subscriber, count: int) -> list[float]:
    """Seconds from each publish to its callback, after a warm-up of 100."""
    arrived = threading.Event()
    seen = []

    def callback(payload):
        seen.append(time.perf_counter() - payload["t"])
        arrived.set()

    subscriber.subscribe("bench", callback)
    for _ in range(count + 100):
        arrived.clear()
        publisher.publish("bench", {"type": "message", "room_id": 1, "message_id": 1,
                                    "t": time.perf_counter()})
        if not arrived.wait(10):
            raise RuntimeError("a message did not arrive within 10 s")
    return seen[100:]


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@contextlib.contextmanager
def redis_server(url: str | None):
    if url:
        yield url
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([shutil.which("redis-server"), "--port", str(port), "--bind",
                               "127.0.0.1", "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        for _ in range(100):
            with contextlib.suppress(redis.ConnectionError):
                redis.Redis.from_url(url).ping()
                break
            time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()

    memory = MemoryBroker()
    baseline = measure(memory, memory, args.messages)
    memory.close()
    with redis_server(args.redis_url) as url:
        prefix = f"crema-bench-{uuid.uuid4().hex[:8]}:"
        a = RedisBroker(url, prefix, redis.Redis.from_url(url, socket_timeout=5))
        b = RedisBroker(url, prefix, redis.Redis.from_url(url, socket_timeout=5))
        try:
            crossed = measure(a, b, args.messages)
        finally:
            a.close()
            b.close()

    print(f"Broker publish -> callback, {args.messages} messages one at a time\n")
    print("| broker | p50 (ms) | p99 (ms) | p50 ratio | p99 ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    base50, base99 = percentile(baseline, 50), percentile(baseline, 99)
    for name, values in (("MemoryBroker, same process", baseline),
                         ("RedisBroker, A -> B", crossed)):
        p50, p99 = percentile(values, 50), percentile(values, 99)
        print(f"| {name} | {p50 * 1000:.3f} | {p99 * 1000:.3f} | "
              f"{p50 / base50:.1f} | {p99 / base99:.1f} |")


if __name__ == "__main__":
    main()
