"""`make bench`: catalog throughput as a ratio of a trivial route, on SQLite and PostgreSQL.

Both routes are served by the same gunicorn (gevent worker, as deployed) in the
same run, so the ratio does not depend on how fast this machine happens to be.
"""
import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import harness

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

CATALOG_PATHS = [
    "/coffees?q=et&sort=top",
    "/coffees?q=hu&process=washed&sort=reviews",
    "/coffees?origin=ET&roast=light&sort=newest",
    "/coffees?flavour=berry&min_rating=4&sort=top",
    "/coffees?q=ka&sort=name&page=3",
    "/coffees?process=natural&sort=top&page=2",
    "/coffees?roast=medium&flavour=chocolate&sort=reviews",
    "/coffees?sort=top&page=50",
]
TRIVIAL_PATHS = ["/healthz"]
TARGET = 0.25
READING = (Path(__file__).resolve().parent / "reading.md").read_text().strip()
# The app as deployed; then searches the process has not seen (no cached totals or
# fragments, cards rendered before); then every catalog cache off.
VARIANTS = {
    "as deployed": {},
    "new searches": {"CATALOG_COUNT_TTL": "0", "FRAGMENT_CACHE_SIZE": "0"},
    "caches off": {"CATALOG_COUNT_TTL": "0", "CARD_CACHE_SIZE": "0", "FRAGMENT_CACHE_SIZE": "0"},
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
    parser.add_argument("--pg-server", default=os.environ.get(
        "BENCH_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    return parser.parse_args()


def measure(base: str, args) -> dict:
    """Alternate trivial and catalog runs; the ratio of medians is the figure."""
    trivial, catalog = [], []
    hx = {"HX-Request": "true"}
    harness.wrk(base, TRIVIAL_PATHS, {}, 2, args.connections)  # warm-up
    harness.wrk(base, CATALOG_PATHS, hx, 2, args.connections)
    for _ in range(args.rounds):
        trivial.append(harness.wrk(base, TRIVIAL_PATHS, {}, args.seconds, args.connections))
        catalog.append(harness.wrk(base, CATALOG_PATHS, hx, args.seconds, args.connections))
    t, c = statistics.median(trivial), statistics.median(catalog)
    return {"trivial": t, "catalog": c, "ratio": c / t,
            "ratios": [ci / ti for ci, ti in zip(catalog, trivial)]}


def main() -> int:
    args = parse_args()
    harness.require_wrk()
    RESULTS.mkdir(parents=True, exist_ok=True)
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    rows = []
    for backend in backends:
        if backend == "sqlite":
            url = f"sqlite:///{RESULTS / 'bench.db'}"
        else:
            url = harness.pg_database(args.pg_server, "crema_bench")
        seeded = harness.ensure_dataset(url, args.coffees, args.reviews)
        print(f"[{backend}] data set ready ({seeded})", flush=True)
        for variant, settings in VARIANTS.items():
            with harness.gunicorn(url, args.workers, settings) as base:
                result = measure(base, args)
            result.update(backend=backend, variant=variant, seeded=seeded)
            print(f"[{backend}, {variant}] trivial {result['trivial']:.0f} req/s, catalog "
                  f"{result['catalog']:.0f} req/s, ratio {result['ratio']:.2f}", flush=True)
            rows.append(result)
    write_report(Path(args.output), rows, args)
    failed = [r["backend"] for r in rows if r["variant"] == "as deployed" and r["ratio"] < TARGET]
    if failed:
        print(f"below the {TARGET} target on: {', '.join(failed)}")
    return 0


def write_report(path: Path, rows: list[dict], args) -> None:
    command = "make bench" + ("" if sys.argv[1:] == [] else
                              " (python -m bench " + " ".join(sys.argv[1:]) + ")")
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC,",
        f"on this project's 2-core machine. Data set: `flask seed --coffees {args.coffees} "
        f"--reviews {args.reviews}`.",
        "",
        "## Catalog fragment against a trivial route",
        "",
        f"gunicorn, gevent worker, {args.workers} workers; load from `wrk` with "
        f"{args.connections} connections on the same machine, {args.rounds} alternating "
        f"runs of {args.seconds} s per route; figures are medians.",
        "",
        "- *trivial*: `GET /healthz` (one `SELECT 1`, a small JSON body).",
        "- *catalog*: the htmx fragment of `/coffees` (`HX-Request: true`), cycling through "
        f"{len(CATALOG_PATHS)} searches, filters, sorts and pages:",
        "",
    ]
    lines += [f"  - `{p}`" for p in CATALOG_PATHS]
    lines += [
        "",
        f"Target: the catalog, as deployed, reaches at least {TARGET} of the trivial route's "
        "throughput. The other rows run the same server with some caches off (see "
        "\"Reading these figures\"):",
        "",
    ]
    lines += [f"- *{name}*: `{' '.join(f'{k}={v}' for k, v in settings.items())}`"
              for name, settings in VARIANTS.items() if settings]
    lines += [
        "",
        "| backend | app | trivial req/s | catalog req/s | ratio | ratio per round | target met |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        per_round = ", ".join(f"{x:.2f}" for x in r["ratios"])
        met = ("yes" if r["ratio"] >= TARGET else "no") if r["variant"] == "as deployed" else "-"
        lines.append(f"| {r['backend']} | {r['variant']} | {r['trivial']:.0f} | "
                     f"{r['catalog']:.0f} | {r['ratio']:.2f} | {per_round} | {met} |")
    lines += ["", "Seeding times (when this run built the data set):", ""]
    lines += [f"- {r['backend']}: {r['seeded']}" for r in rows if r["variant"] == "as deployed"]
    lines += ["", READING]
    lines.append("")
    path.write_text("\n".join(lines))
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
