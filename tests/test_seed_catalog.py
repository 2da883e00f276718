"""flask seed: the demo catalog, idempotent, and the benchmark data set with small numbers."""
from sqlalchemy import func, select, text

from webapp.models import Coffee, CoffeeTerm, Review, ReviewTag, User
from webapp.services.reviews import recompute_aggregates


def counts(db) -> tuple[int, int]:
    return (db.session.scalar(select(func.count(Coffee.id))),
            db.session.scalar(select(func.count(Review.id))))


def aggregates(db) -> list[tuple]:
    columns = [Coffee.id, Coffee.rating_count, Coffee.rating_sum, Coffee.rating_bayes,
               *[getattr(Coffee, f"hist_{n}") for n in range(1, 11)]]
    return [tuple(row) for row in db.session.execute(select(*columns).order_by(Coffee.id))]


def test_seed_adds_a_believable_catalog_once(runner, db):
    first = runner.invoke(args=["seed"])
    assert first.exit_code == 0, first.output
    coffees, reviews = counts(db)
    assert 30 <= coffees <= 40 and 150 <= reviews <= 500
    assert "coffees and" in first.output
    origins = set(db.session.scalars(select(Coffee.origin)))
    assert {"ET", "CO", "BR"} <= origins and len(origins) >= 8
    assert db.session.scalar(select(func.count()).select_from(ReviewTag)) > 0
    before = aggregates(db)
    recompute_aggregates()
    assert aggregates(db) == before  # the seed's aggregates match its reviews
    second = runner.invoke(args=["seed"])
    assert second.exit_code == 0 and counts(db) == (coffees, reviews)
    assert "0 coffees and 0 reviews" in second.output


def test_seed_benchmark_small(runner, db):
    result = runner.invoke(args=["seed", "--coffees", "30", "--reviews", "400"])
    assert result.exit_code == 0, result.output
    coffees, reviews = counts(db)
    assert coffees >= 30 + 30 and "Benchmark: 30 coffees and 400 reviews" in result.output
    ranked = db.session.scalar(select(func.count(Coffee.id)).where(Coffee.rating_bayes > 0))
    assert ranked > 0
    before = aggregates(db)
    recompute_aggregates()
    assert aggregates(db) == before
    again = runner.invoke(args=["seed", "--coffees", "5", "--reviews", "20"])
    assert again.exit_code == 0 and counts(db)[0] == coffees + 5
    assert db.session.scalar(select(func.count(User.id))) < 200


def test_reviews_without_coffees_is_refused(runner, db):
    result = runner.invoke(args=["seed", "--reviews", "10"])
    assert result.exit_code != 0 and "--coffees" in result.output
    assert counts(db) == (0, 0)


def test_recompute_and_reindex_commands(runner, db, make_coffee, make_user, make_review):
    coffee = make_coffee("Kochere")
    for stars in (4, 5):
        make_review(coffee, make_user(), stars)
    db.session.execute(Coffee.__table__.update().values(search_text="", rating_count=0,
                                                        rating_sum=0, hist_10=0))
    db.session.commit()
    assert runner.invoke(args=["coffees", "recompute"]).exit_code == 0
    assert runner.invoke(args=["coffees", "reindex"]).exit_code == 0
    db.session.expire_all()
    coffee = db.session.get(Coffee, coffee.id)
    assert (coffee.rating_count, coffee.rating_sum, coffee.hist_8, coffee.hist_10) == (2, 18, 1, 1)
    assert "ethiopia" in coffee.search_text


def test_reindex_rebuilds_the_terms_and_the_planner_statistics(runner, db, make_coffee):
    make_coffee("Kochere")
    db.session.execute(CoffeeTerm.__table__.delete())
    db.session.commit()
    analyzed(db)
    before = analyzed(db)  # on SQLite 0: the first call forgot earlier statistics
    result = runner.invoke(args=["coffees", "reindex"])
    assert result.exit_code == 0 and "planner statistics refreshed" in result.output
    assert "kochere" in db.session.scalars(select(CoffeeTerm.term)).all()
    assert analyzed(db) > before


def analyzed(db) -> int:
    """PostgreSQL: how often the coffees table was analyzed. SQLite keeps no such count:
    its statistics rows for coffees, which this forgets for the next call."""
    if db.engine.dialect.name != "sqlite":
        db.session.execute(text("SELECT pg_stat_clear_snapshot()"))
        return db.session.scalar(text(
            "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'coffees'"))
    if not db.session.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")):
        return 0
    rows = db.session.scalar(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'coffees'"))
    db.session.execute(text("DELETE FROM sqlite_stat1"))
    db.session.commit()
    return rows
