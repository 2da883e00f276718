"""`make bench`: catalog throughput as a ratio of a trivial route, on SQLite and PostgreSQL.

Both routes are served by the same gunicorn (gevent worker, as deployed) in the
same run, so the ratio does not depend on how fast this machine happens to be.
"""
import argparse
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

from bench import harness, queries

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

# The old row: eight URLs repeated, so after the warm-up it measures the caches.
REPEATED_PATHS = [
    "/coffees?q=et&sort=top",
    "/coffees?q=hu&process=washed&sort=reviews",
    "/coffees?origin=ET&roast=light&sort=newest",
    "/coffees?flavour=berry&min_rating=4&sort=top",
    "/coffees?q=ka&sort=name&page=3",
    "/coffees?process=natural&sort=top&page=2",
    "/coffees?roast=medium&flavour=chocolate&sort=reviews",
    "/coffees?sort=top&page=50",
]
TYPED_COUNT = 20_000  # distinct typed searches (bench/queries.py)
TRIVIAL_PATHS = ["/healthz"]
TARGET = 0.25
READING = (Path(__file__).resolve().parent / "reading.md").read_text().strip()
# Each server's settings, and which catalog workloads it serves. As deployed: two
# web processes sharing the catalog version through Redis. Then the typed searches
# without the totals and fragment caches, then with every catalog cache off.
NO_TOTALS = {"CATALOG_COUNT_TTL": "0", "FRAGMENT_CACHE_SIZE": "0"}
VARIANTS = {
    "as deployed": ({}, ["repeated", "typed"]),
    "no totals or fragment cache": (NO_TOTALS, ["typed"]),
    "caches off": ({**NO_TOTALS, "CARD_CACHE_SIZE": "0"}, ["typed"]),
}
WORKLOADS = {
    "repeated": f"{len(REPEATED_PATHS)} repeated URLs (measures the caches)",
    "typed": f"typed searches ({TYPED_COUNT:,} distinct)",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--coffees", type=int, default=10_000)
    parser.add_argument("--reviews", type=int, default=200_000)
    parser.add_argument("--seconds", type=int, default=8, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per route")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    harness.add_service_arguments(
        parser, "Redis for the web processes' shared catalog version ('' for none)")
    return parser.parse_args()


def measure(base: str, args, paths: list[str], cursor: int = 0) -> dict:
    """Alternate trivial and catalog runs; the ratio of medians is the figure.

    The catalog runs go on through ``paths`` from ``cursor`` (each run starts where
    the last stopped), so distinct paths are not asked twice until the list is used up.
    """
    trivial, catalog = [], []
    hx = {"HX-Request": "true"}
    harness.wrk(base, TRIVIAL_PATHS, {}, 2, args.connections)  # warm-up
    cursor += harness.wrk(base, paths, hx, 2, args.connections, cursor)[1]
    for _ in range(args.rounds):
        trivial.append(harness.wrk(base, TRIVIAL_PATHS, {}, args.seconds, args.connections)[0])
        rps, requests = harness.wrk(base, paths, hx, args.seconds, args.connections, cursor)
        catalog.append(rps)
        cursor += requests
    t, c = statistics.median(trivial), statistics.median(catalog)
    return {"trivial": t, "catalog": c, "ratio": c / t, "requests": cursor,
            "ratios": [ci / ti for ci, ti in zip(catalog, trivial)]}


def main() -> int:
    args = parse_args()
    harness.require_wrk()
    RESULTS.mkdir(parents=True, exist_ok=True)
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    redis = {"REDIS_URL": args.redis, "REDIS_PREFIX": "crema-bench:"} if args.redis else {}
    rows = []
    for backend in backends:
        if backend == "sqlite":
            url = f"sqlite:///{RESULTS / 'bench.db'}"
        else:
            url = harness.pg_database(args.pg_server, "crema_bench")
        seeded = harness.ensure_dataset(url, args.coffees, args.reviews)
        print(f"[{backend}] data set ready ({seeded})", flush=True)
        typed = queries.catalog_paths(url, TYPED_COUNT)
        paths = {"repeated": REPEATED_PATHS, "typed": typed}
        for variant, (settings, workloads) in VARIANTS.items():
            with harness.gunicorn(url, args.workers, {**redis, **settings}) as base:
                for workload in workloads:
                    result = measure(base, args, paths[workload])
                    result.update(backend=backend, variant=variant, workload=workload,
                                  seeded=seeded, distinct=len(paths[workload]))
                    print(f"[{backend}, {variant}, {workload}] trivial {result['trivial']:.0f}"
                          f" req/s, catalog {result['catalog']:.0f} req/s, ratio "
                          f"{result['ratio']:.2f} ({result['requests']} catalog requests)",
                          flush=True)
                    rows.append(result)
    write_report(Path(args.output), rows, args)
    failed = [r["backend"] for r in rows if _targeted(r) and r["ratio"] < TARGET]
    if failed:
        print(f"typed searches below the {TARGET} target on: {', '.join(failed)}")
    return 0


def _targeted(row: dict) -> bool:
    return row["variant"] == "as deployed" and row["workload"] == "typed"


def write_report(path: Path, rows: list[dict], args) -> None:
    command = "make bench" + ("" if sys.argv[1:] == [] else
                              " (python -m bench " + " ".join(sys.argv[1:]) + ")")
    typed = [r for r in rows if r["workload"] == "typed"]
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC,",
        f"on this project's 2-core machine. Data set: `flask seed --coffees {args.coffees} "
        f"--reviews {args.reviews}`.",
        "",
        "## Catalog fragment against a trivial route",
        "",
        f"gunicorn, gevent worker, {args.workers} workers"
        + (f", sharing the catalog version through Redis (`{args.redis}`)" if args.redis
           else ", without Redis") +
        f"; load from `wrk` with {args.connections} connections on the same machine, "
        f"{args.rounds} alternating runs of {args.seconds} s per route; figures are medians.",
        "",
        "- *trivial*: `GET /healthz` (one `SELECT 1`"
        + (" and a Redis `PING`" if args.redis else "") + ", a small JSON body).",
        "- *catalog*: the htmx fragment of `/coffees` (`HX-Request: true`):",
        f"  - *{WORKLOADS['typed']}*: each request a different search as people type it "
        "(bench/queries.py): 1 to 6 letters of a word of the data set (origins and "
        "flavours in English and Russian, regions, varieties, roasters), a quarter of them "
        "after a first whole word, with filters, sorts and pages drawn with a fixed seed. "
        "wrk goes through the list without going back, each run starting where the last "
        "stopped: " + _repeats(typed) + " For example:",
        "",
    ]
    sample = queries.catalog_paths(_sample_url(args), 8) if typed else []
    lines += [f"    - `{p}`" for p in sample]
    lines += [
        "",
        f"  - *{WORKLOADS['repeated']}*: the old row, kept for comparison. After the "
        "warm-up every total and fragment comes from the caches:",
        "",
    ]
    lines += [f"    - `{p}`" for p in REPEATED_PATHS]
    lines += [
        "",
        f"Target: the typed searches, as deployed, reach at least {TARGET} of the trivial "
        "route's throughput. The other rows run the same server with some caches off:",
        "",
    ]
    lines += [f"- *{name}*: `{' '.join(f'{k}={v}' for k, v in settings.items())}`"
              for name, (settings, _) in VARIANTS.items() if settings]
    lines += [
        "",
        "| backend | app | catalog requests | trivial req/s | catalog req/s | ratio "
        "| ratio per round | target met |",
        "| --- | --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        per_round = ", ".join(f"{x:.2f}" for x in r["ratios"])
        met = ("yes" if r["ratio"] >= TARGET else "no") if _targeted(r) else "-"
        lines.append(f"| {r['backend']} | {r['variant']} | {WORKLOADS[r['workload']]} | "
                     f"{r['trivial']:.0f} | {r['catalog']:.0f} | {r['ratio']:.2f} | "
                     f"{per_round} | {met} |")
    lines += ["", "Seeding times (when this run built the data set):", ""]
    lines += [f"- {r['backend']}: {r['seeded']}" for r in rows if _targeted(r)]
    lines += ["", READING]
    lines.append("")
    # Other benchmarks (bench.chat) write their own sections: keep them.
    old = path.read_text() if path.exists() else ""
    path.write_text(harness.keep_other_sections(old, "\n".join(lines)))
    print(f"wrote {path}")


def _repeats(typed: list[dict]) -> str:
    most = max((r["requests"] for r in typed), default=0)
    if most <= TYPED_COUNT:
        return (f"one server was asked at most {most:,} of the {TYPED_COUNT:,} searches, "
                "so none repeated.")
    return (f"one server was asked up to {most:,} searches, so the list of "
            f"{TYPED_COUNT:,} came round again ({most - TYPED_COUNT:,} repeats).")


def _sample_url(args) -> str:
    return f"sqlite:///{RESULTS / 'bench.db'}" if args.backend != "postgresql" else \
        harness.pg_database(args.pg_server, "crema_bench")


if __name__ == "__main__":
    sys.exit(main())
