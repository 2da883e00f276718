"""What recomputing a coffee's aggregates on every review costs, as the coffee grows.

Saving a review locks its coffee and recomputes the aggregates from all the coffee's
reviews (webapp.services.reviews). This measures one save (an edit of one's own
review, through the service, in process) on coffees with 1 to 20,000 other reviews,
as a ratio of the same save on a coffee with no other review, on SQLite and on
PostgreSQL, in one run.

    .venv/bin/python -m bench.ratings [--backend sqlite|postgresql|all]
"""
import argparse
import os
import statistics
import tempfile
import time

from sqlalchemy import insert, text

SIZES = (0, 100, 1_000, 5_000, 20_000)
SAVES = 200


def build(app, sizes) -> dict[int, tuple[int, int]]:
    """One coffee per size with that many other reviews; returns size -> (coffee, taster)."""
    from webapp.extensions import db
    from webapp.models import Review, User
    from webapp.services import coffees, reviews
    from webapp.services.coffees import CoffeeData

    users = [{"username": f"bench{n}", "email": f"bench{n}@example.com", "password_hash": "x",
              "display_name": "", "bio": "", "role": "user", "session_token": "t"}
             for n in range(max(sizes) + 1)]
    db.session.execute(insert(User), users)
    db.session.commit()
    ids = db.session.scalars(text("SELECT id FROM users ORDER BY id")).all()
    made = {}
    for size in sizes:
        coffee = coffees.create_coffee(ids[0], CoffeeData(
            name=f"Bench {size}", roaster="Bench", origin="ET", process="washed", roast="light"))
        rows = [{"coffee_id": coffee.id, "user_id": uid, "rating": 1 + n % 10,
                 "brew_method": "espresso", "body": ""} for n, uid in enumerate(ids[1:size + 1])]
        if rows:
            db.session.execute(insert(Review), rows)
            db.session.commit()
        reviews.recompute_aggregates([coffee.id])
        made[size] = (coffee.id, ids[0])
    return made


def time_saves(coffee_id: int, user_id: int) -> float:
    """Median seconds of one save of the taster's own review (a new rating each time)."""
    from webapp.services import reviews

    times = []
    for n in range(SAVES):
        start = time.perf_counter()
        reviews.save_review(coffee_id, user_id, 1 + n % 5, "espresso", [], "")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(url: str) -> list[tuple[int, float, float]]:
    from tests.conftest import make_app, reset_database, upgrade_database

    reset_database(url)
    app = make_app(url)
    upgrade_database(app)
    with app.app_context():
        made = build(app, SIZES)
        time_saves(*made[0])  # warm-up
        base = time_saves(*made[0])
        return [(size, time_saves(*made[size]), base) for size in SIZES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--pg-server", default=os.environ.get(
        "BENCH_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    print("| backend | other reviews | one save (ms) | ratio to 0 other reviews |")
    print("|---|---:|---:|---:|")
    for backend in backends:
        if backend == "sqlite":
            url = f"sqlite:///{tempfile.mkdtemp()}/ratings.db"
            results = run(url)
        else:
            from tests.conftest import scratch_postgres_database
            with scratch_postgres_database(args.pg_server) as url:
                results = run(url)
        for size, seconds, base in results:
            print(f"| {backend} | {size:,} | {seconds * 1000:.2f} | {seconds / base:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
