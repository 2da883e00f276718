"""bench.chat's figures: printed as each part ends, and its section of BENCHMARKS.md."""
import statistics
from pathlib import Path

from bench import harness

SECTION = "## Chat sockets"
FANOUT_TARGET = 1.5  # Crema's p99 (one message's, typical) at most this many times the bare's
CROSS_TARGET_MS = 5.0  # extra p50 latency of a client on the other process
READING = (Path(__file__).resolve().parent / "chat_reading.md").read_text().strip()


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


# Figures --------------------------------------------------------------------------

def capacity_rows(runs: list[dict]) -> list[str]:
    rows = [
        "| `WORKER_CONNECTIONS` | worker RSS before | with the sockets open | per socket "
        "| sockets open at the end | time to open them |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in runs:
        per_socket = (c["rss_after"] - c["rss_before"]) / c["sockets"]
        rows.append(f"| {_pool(c)} | {c['rss_before'] / 1024:.1f} MiB | "
                    f"{c['rss_after'] / 1024:.1f} MiB | {per_socket:.1f} KiB | "
                    f"{c['alive']:,} of {c['sockets']:,} | {c['opened_s']:.1f} s |")
    rows += [
        "",
        f"| `WORKER_CONNECTIONS` | page | idle: median (max) ms | with {runs[0]['sockets']:,} "
        "sockets open: median (max) ms | ratio of medians | answered with the sockets open |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for c in runs:
        for path, idle in c["idle"].items():
            loaded = c["loaded"][path]
            ratio = (f"{loaded['median'] / idle['median']:.2f}"
                     if loaded["median"] and idle["median"] else "-")
            answered = (f"yes, {c['samples']} of {c['samples']}" if not loaded["failed"]
                        else f"no: nothing within {c['timeout']:.0f} s")
            rows.append(f"| {_pool(c)} | `GET {path}` | {_ms(idle['median'])} "
                        f"({_ms(idle['max'])}) | {_ms(loaded['median'])} ({_ms(loaded['max'])}) "
                        f"| {ratio} | {answered} |")
    return rows


def _pool(c: dict) -> str:
    return c["worker_connections"] or "as deployed (CHAT_MAX_SOCKETS + PAGE_CONNECTIONS = 2,500)"


def fanout_stats(per_message: list[list[float]]) -> dict:
    pooled = [t for m in per_message for t in m]
    return {"p50": _pct(pooled, 50), "p99": _pct(pooled, 99),
            # One message to N receivers, as the target is put: its p50 and p99 over
            # its receivers; the median of those over the messages.
            "msg_p50": statistics.median(_pct(m, 50) for m in per_message),
            "msg_p99": statistics.median(_pct(m, 99) for m in per_message),
            "first": statistics.median(min(m) for m in per_message),
            "last": statistics.median(max(m) for m in per_message),
            "spread": statistics.median(max(m) - min(m) for m in per_message)}


def fanout_rows(f: dict) -> list[str]:
    stats = {name: fanout_stats(m) for name, m in f["per_message"].items()}
    bare = stats["bare"]
    rows = [
        "| server | one message: p50 ms | one message: p99 ms | p99 ratio | target met "
        "| all deliveries: p50 ms | all deliveries: p99 ms | p99 ratio | first receiver ms "
        "| last receiver ms | first to last ms |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in ["bare", *(n for n in stats if n != "bare")]:
        s = stats[name]
        label = "bare flask-sock broadcast (bench/bare_sock.py)" if name == "bare" else name
        met = "-" if name == "bare" else \
            ("yes" if s["msg_p99"] <= FANOUT_TARGET * bare["msg_p99"] else "no")
        rows.append(f"| {label} | {_ms(s['msg_p50'])} | {_ms(s['msg_p99'])} | "
                    f"{s['msg_p99'] / bare['msg_p99']:.2f} | {met} | {_ms(s['p50'])} | "
                    f"{_ms(s['p99'])} | {s['p99'] / bare['p99']:.2f} | "
                    f"{_ms(s['first'])} | {_ms(s['last'])} | {_ms(s['spread'])} |")
    return rows


def cross_rows(x: dict) -> list[str]:
    a = [t for m in x["A"] for t in m]
    b = [t for m in x["B"] for t in m]
    per_message = [statistics.median(ma) - statistics.median(mb) for ma, mb in zip(x["A"], x["B"])]
    extra = _pct(a, 50) - _pct(b, 50)
    return [
        "| receivers | p50 ms | p99 ms |",
        "| --- | ---: | ---: |",
        f"| on B, the poster's process | {_ms(_pct(b, 50))} | {_ms(_pct(b, 99))} |",
        f"| on A, the other process | {_ms(_pct(a, 50))} | {_ms(_pct(a, 99))} |",
        "",
        f"Extra latency on the other process at p50: **{extra * 1000:.2f} ms** (median of the "
        f"per-message differences: {statistics.median(per_message) * 1000:.2f} ms); target "
        f"under {CROSS_TARGET_MS:.0f} ms: {'met' if extra * 1000 < CROSS_TARGET_MS else 'not met'}.",
    ]


def print_capacity(c: dict) -> None:
    print("\n".join(["", "Capacity, one worker:", *capacity_rows([c])]), flush=True)


def print_fanout(f: dict) -> None:
    print("\n".join(["", f"Fan-out, {f['receivers']} receivers, {f['messages']} messages:",
                     *fanout_rows(f)]), flush=True)


def print_cross(x: dict) -> None:
    print("\n".join(["", f"Across processes, {x['per_process']} receivers on each, "
                     f"{x['messages']} messages:", *cross_rows(x)]), flush=True)


# BENCHMARKS.md ------------------------------------------------------------------------

def write(path: Path, results: dict, command: str, moment) -> None:
    """Replace this section of ``path`` (or add it at the end); keep every other one."""
    args, runs, f, x = results["args"], results["capacity"], results["fanout"], results["cross"]
    c = runs[0]
    lines = [
        SECTION,
        "",
        f"Produced by `{command}` (the last step of `make bench`) on "
        f"{moment:%Y-%m-%d %H:%M} UTC, on this project's 2-core machine. Servers: gunicorn "
        "with gunicorn.conf.py (gevent worker), one worker each, Redis "
        f"(`{args.redis}`) as broker and for presence, `CHAT_POST_LIMIT` raised out of the "
        "way. Clients: aiohttp WebSockets in one asyncio process on the same machine, "
        "anonymous readers and one logged-in poster (`flask seed`'s lena_brews). Databases "
        "made afresh by the run: `flask db upgrade` and `flask seed`.",
        "",
        f"### 1. One worker holding {c['sockets']:,} room sockets (SQLite)",
        "",
        "The sockets are spread over the three topic rooms; each resumes from its room's "
        "last message, as a page does. RSS is the worker's (`VmRSS` in /proc), not the "
        f"master's. The pages are fetched one after the other on new connections, "
        f"{c['samples']} of each, idle (after a warm-up) and then with the sockets open; a "
        f"page that does not answer within {c['timeout']:.0f} s is not asked again."
        + ("" if len(runs) == 1 else
           " As deployed, the pages did not answer: the run was repeated with "
           f"`WORKER_CONNECTIONS={runs[1]['worker_connections']}`."),
        "",
        *capacity_rows(runs),
        "",
        f"### 2. Fan-out to {f['receivers']} sockets in one room",
        "",
        f"{f['messages']} messages per server after 3 to warm up, the servers taking turns "
        "message by message. Latency: from the poster's send to each receiver reading the "
        f"frame. *One message*: p50 and p99 of one message over its {f['receivers']} "
        "receivers, the median over the messages (the target's figure: one message fanned "
        "out to 500 clients). *All deliveries*: p50 and p99 over all "
        f"{f['messages'] * f['receivers']:,} deliveries of a server, where the one or two "
        "slowest messages make the p99. *First receiver*, *last receiver* and *first to "
        "last*: medians over the messages. The bare broadcast's frames are as long as "
        f"Crema's rendered message ({f['frame_size']:,} characters). Target: Crema's p99 "
        f"within {FANOUT_TARGET}x of the bare broadcast's.",
        "",
        *fanout_rows(f),
        "",
        "### 3. Two web processes sharing Redis and PostgreSQL",
        "",
        f"{x['messages']} messages posted on B after 5 to warm up; {x['per_process']} "
        "receivers on A and as many on B, all in one room. B's own receivers also get the "
        "message through Redis (each process has one subscription per room), so the "
        "difference is what being on the other process costs.",
        "",
        *cross_rows(x),
        "",
        READING,
        "",
    ]
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    path.write_text(harness.replace_section(old, SECTION, "\n".join(lines)))
    print(f"wrote {path}")
