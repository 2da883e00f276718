"""Pieces of the benchmark: data sets, a gunicorn server and wrk runs."""
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def require_wrk() -> None:
    if shutil.which("wrk"):
        return
    print("installing wrk (Debian package) for the load generator", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)


def pg_database(server_url: str, name: str) -> str:
    """The URL of database ``name`` on that server, created when missing."""
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


def _counts(url: str) -> tuple[int, int] | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            coffees = conn.scalar(select(func.count()).select_from(text("coffees")))
            reviews = conn.scalar(select(func.count()).select_from(text("reviews")))
            return coffees, reviews
    except Exception:
        return None
    finally:
        engine.dispose()


def _reset(url: str) -> None:
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _flask(url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "webapp"}
    env.pop("REDIS_URL", None)
    subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=env, check=True)


def ensure_dataset(url: str, coffees: int, reviews: int) -> str:
    """Build the data set unless the database already holds at least it."""
    counts = _counts(url)
    if counts and counts[0] >= coffees and counts[1] >= reviews:
        return f"reused ({counts[0]} coffees, {counts[1]} reviews)"
    _reset(url)
    _flask(url, "db", "upgrade")
    start = time.perf_counter()
    _flask(url, "seed", "--coffees", str(coffees), "--reviews", str(reviews))
    return f"seeded in {time.perf_counter() - start:.0f} s"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn(url: str, workers: int, settings: dict | None = None):
    """Serve the app with gunicorn's gevent worker (``settings`` added to its
    environment); yield its base URL."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-" + "x" * 32}
    env.pop("REDIS_URL", None)  # only when ``settings`` name one
    env.update(settings or {})
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "--worker-class", "gevent", "--workers", str(workers),
         "--bind", f"127.0.0.1:{port}", "--no-control-socket", "--log-level", "warning",
         "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            log.seek(0)
            raise RuntimeError("gunicorn did not start:\n" + log.read().decode())
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


WRK_SCRIPT = """
-- The paths, one a line; thread n of N starts n/N of the way through the list, at
-- the offset given after "--", and cycles from there.
local paths = {}
for line in io.lines("%(file)s") do paths[#paths + 1] = line end
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  local start, count = tonumber(args[1]) or 0, tonumber(args[2]) or 1
  i = (start + math.floor(#paths / count) * (id or 0)) %% #paths
end
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def wrk(base: str, paths: list[str], headers: dict, seconds: int, connections: int,
        start: int = 0, threads: int = 1) -> tuple[float, int]:
    """Requests per second, and requests made, cycling through ``paths`` from ``start``.

    :raise RuntimeError: when any answer is not 2xx (the run would not be honest).
    """
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "paths.txt"
        listing.write_text("\n".join(paths) + "\n")
        script = Path(tmp) / "cycle.lua"
        lines = [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
        script.write_text("\n".join(lines) + WRK_SCRIPT % {"file": listing})
        out = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
             "-s", str(script), base, "--", str(start), str(threads)],
            capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError("wrk saw error responses:\n" + out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rps, int(re.search(r"(\d+) requests in", out).group(1))
