"""Pieces of the benchmark: data sets, a gunicorn server and wrk runs."""
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
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


def _flask(url: str, *args: str, quiet: bool = False) -> None:
    """``flask <args>`` on that database; ``quiet``: its output only when it fails."""
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "webapp"}
    env.pop("REDIS_URL", None)
    done = subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=env,
                          capture_output=quiet, text=True)
    if done.returncode:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout or ''}{done.stderr or ''}")


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


def sections(document: str) -> list[tuple[str, str]]:
    """``document`` cut at its level-2 headings: (heading, text) in order; the text before
    the first heading has the heading ""."""
    found, heading, lines = [], "", []
    for line in document.rstrip("\n").split("\n"):
        if line.startswith("## "):
            found.append((heading, "\n".join(lines)))
            heading, lines = line, []
        lines.append(line)
    found.append((heading, "\n".join(lines)))
    return found


def keep_other_sections(old: str, new: str) -> str:
    """``new`` followed by the sections of ``old`` it does not have (another benchmark's)."""
    mine = {heading for heading, _ in sections(new)}
    others = [text_ for heading, text_ in sections(old) if heading and heading not in mine]
    return "\n\n".join([new.rstrip("\n"), *(t.rstrip("\n") for t in others)]) + "\n"


def replace_section(document: str, heading: str, section: str) -> str:
    """``document`` with its section under ``heading`` replaced by ``section``, or with
    it added at the end (each bench writes its own section of BENCHMARKS.md)."""
    parts = sections(document)
    texts = [section if h == heading else text_ for h, text_ in parts]
    if heading not in (h for h, _ in parts):
        texts.append(section)
    return "\n\n".join(t.strip("\n") for t in texts if t.strip()) + "\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



def add_service_arguments(parser, redis_help: str | None = None) -> None:
    """The options every bench shares: the PostgreSQL server (``BENCH_PG_SERVER``), the
    Redis (``BENCH_REDIS_URL``) and the report's path."""
    parser.add_argument("--pg-server", default=os.environ.get(
        "BENCH_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--redis", default=os.environ.get(
        "BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"), help=redis_help)
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))

@dataclass
class Server:
    base: str  # http://127.0.0.1:<port>
    pid: int   # gunicorn's master
    log: object  # its output so far: log.seek(0); log.read()

    def workers(self) -> list[int]:
        """The master's children: its workers."""
        return children(self.pid)


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


@contextlib.contextmanager
def gunicorn(url: str, workers: int, settings: dict | None = None):
    """Serve the app with gunicorn's gevent worker (``settings`` added to its
    environment); yield its base URL."""
    with serve(url, workers, settings) as server:
        yield server.base


@contextlib.contextmanager
def serve(url: str, workers: int, settings: dict | None = None, app: str = "wsgi:app"):
    """Serve ``app`` with gunicorn's gevent worker (and gunicorn.conf.py, as deployed;
    ``settings`` added to its environment); yield a ``Server``. Stopped on the way out,
    killed when it does not stop within 15 s."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-" + "x" * 32}
    env.pop("REDIS_URL", None)  # only when ``settings`` name one
    env.update(settings or {})
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "--worker-class", "gevent", "--workers", str(workers),
         "--bind", f"127.0.0.1:{port}", "--no-control-socket", "--log-level", "warning",
         app],
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
        yield Server(base, proc.pid, log)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            for pid in children(proc.pid):  # still the master's: not a reused pid
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            proc.kill()
            proc.wait(5)


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
